//! The registrar a request names, on the SDK: Route 53 Domains, or a parent hosted zone
//! ([`crate::ports::parent_zone::ParentZone`] over the Route 53 adapter).

use zonehop_core::name::Name;

use crate::adapters::accounts::{config_for, Session};
use crate::error::Error;
use crate::ports::parent_zone::ParentZone;
use crate::ports::registrar::Registrar;

/// The registrar a request names, on the SDK: Route 53 Domains (also for `manual`, which no
/// step calls), or the parent's hosted zone.
#[derive(Debug)]
pub enum ConfiguredRegistrar {
    Domains(crate::adapters::route53domains::Route53Domains),
    Parent(ParentZone<crate::adapters::route53::Route53>),
}

impl ConfiguredRegistrar {
    /// `config` acts in the registrar's account
    /// ([`crate::adapters::accounts::Session::for_registrar`]).
    pub fn new(
        config: &aws_config::SdkConfig,
        registrar: &zonehop_core::request::RegistrarRef,
    ) -> ConfiguredRegistrar {
        match registrar.parent_zone_id() {
            Some(id) if registrar.kind == zonehop_core::request::RegistrarKind::Route53zone => {
                let client = crate::adapters::accounts::route53_client(config);
                ConfiguredRegistrar::Parent(ParentZone::new(
                    crate::adapters::route53::Route53::new(client),
                    id,
                ))
            }
            _ => ConfiguredRegistrar::Domains(
                crate::adapters::route53domains::Route53Domains::new(config),
            ),
        }
    }

    /// The parent zone, for a `route53zone` registrar.
    pub fn parent(&self) -> Option<&ParentZone<crate::adapters::route53::Route53>> {
        match self {
            ConfiguredRegistrar::Parent(parent) => Some(parent),
            ConfiguredRegistrar::Domains(_) => None,
        }
    }
}

impl Registrar for ConfiguredRegistrar {
    async fn name_servers(&self, domain: &Name) -> Result<Vec<String>, Error> {
        match self {
            ConfiguredRegistrar::Domains(r) => r.name_servers(domain).await,
            ConfiguredRegistrar::Parent(r) => r.name_servers(domain).await,
        }
    }

    async fn update_name_servers(
        &self,
        domain: &Name,
        servers: &[String],
    ) -> Result<String, Error> {
        match self {
            ConfiguredRegistrar::Domains(r) => r.update_name_servers(domain, servers).await,
            ConfiguredRegistrar::Parent(r) => r.update_name_servers(domain, servers).await,
        }
    }

    async fn operation_status(&self, operation_id: &str) -> Result<String, Error> {
        match self {
            ConfiguredRegistrar::Domains(r) => r.operation_status(operation_id).await,
            ConfiguredRegistrar::Parent(r) => r.operation_status(operation_id).await,
        }
    }
}

/// The parent zone whose NS TTL lower-ns-ttl and finalize change (a `route53zone`
/// registrar with `lowerNsTtl`), reached with `work`'s session in the registrar's account;
/// `None` for any other request.
pub async fn lowered_parent(
    base: &aws_config::SdkConfig,
    work: zonehop_core::access::Work,
    zones: &zonehop_core::request::BothZones,
) -> Result<Option<ConfiguredRegistrar>, Error> {
    let registrar = &zones.registrar;
    if registrar.parent_zone_id().is_none() || !registrar.lower_ns_ttl {
        return Ok(None);
    }
    registrar.validate()?;
    let session = Session::for_registrar(work, &zones.domain, registrar, &zones.source);
    let config = config_for(base, &registrar.access, &session).await;
    Ok(Some(ConfiguredRegistrar::new(&config, registrar)))
}

/// No parent zone: a registrar that is not `route53zone` (and the tests of steps that take
/// one).
pub const NO_PARENT: Option<&ParentZone<crate::adapters::route53::Route53>> = None;

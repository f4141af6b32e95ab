//! rollback: after a failure once the swap has started, the registration and the old
//! zone's apex NS point at the old zone's own servers again. Idempotent: what already points
//! there is left alone.
use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::point_apex_ns;
use crate::ports::hosted_zones::HostedZones;
use crate::ports::ledger::Ledger;
use crate::ports::parent_zone::ParentZone;
use crate::ports::parent_zone::PARENT_NS_TTL;
use crate::ports::registrar::point_registration;
use crate::ports::registrar::Registrar;
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use zonehop_core::delegation::canonical_servers;
use zonehop_core::delegation::operator_action;
use zonehop_core::request::parse_domain;
use zonehop_core::request::RegistrarKind;
use zonehop_core::request::RegistrarRef;
use zonehop_core::request::ZoneRef;
use zonehop_core::zone::bare_zone_id;

/// rollback's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackRequest {
    pub domain: String,
    pub source: ZoneRef,
    #[serde(default)]
    pub registrar: RegistrarRef,
    /// The Step Functions execution (`$$.Execution.Id`), for the log lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

/// rollback's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackOutput {
    pub name_servers: Vec<String>,
    pub registration_changed: bool,
    pub source_apex_ns_changed: bool,
    /// For a `manual` registrar, what the operator must still do (null otherwise).
    pub operator_action: Option<String>,
}

/// Rollback: the registration and the old zone's apex NS point at the old zone's own
/// servers again. Needs nothing from the failed run: the old zone knows its servers.
///
/// A `route53zone` parent (`registrar` and `parent` are then the same zone: `parent` for
/// what only a zone has) gets its NS record back exactly: the old servers, and the TTL it
/// had before lower-ns-ttl lowered it (the ledger's `parentNsTtl`).
pub async fn rollback<S: HostedZones, G: Registrar, P: HostedZones, L: Ledger, C: Clock>(
    source: &S,
    registrar: &G,
    parent: Option<&ParentZone<P>>,
    ledger: &L,
    clock: &C,
    request: &RollbackRequest,
    settings: &Settings,
) -> Result<RollbackOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let registrar = &Retrying::new(registrar, settings.retry, &stats);
    let domain = parse_domain(&request.domain)?;
    request.registrar.validate()?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let source_zone = source.get_zone(&source_id).await?;
    let servers = canonical_servers(&source_zone.name_servers);
    let (operation, operator_action) = match request.registrar.kind {
        RegistrarKind::Route53domains | RegistrarKind::Route53zone => {
            let (_, operation) = point_registration(
                registrar, ledger, clock, &domain, &servers, "rollback", settings,
            )
            .await?;
            // A parent zone's TTL back to what it was before lower-ns-ttl (`route53zone`).
            if let Some(parent) = parent {
                let original = ledger
                    .read(&domain, PARENT_NS_TTL)
                    .await?
                    .and_then(|doc| doc["original"].as_i64());
                if let Some(original) = original {
                    parent
                        .set_delegation_ttl_in_sync(clock, &domain, original, settings)
                        .await?;
                }
            }
            (operation, None)
        }
        RegistrarKind::Manual => (None, Some(operator_action(&domain, &servers))),
    };
    let (_, apex_changed) =
        point_apex_ns(source, clock, &source_id, &domain, &servers, settings).await?;
    Ok(RollbackOutput {
        name_servers: servers,
        registration_changed: operation.is_some(),
        source_apex_ns_changed: apex_changed,
        operator_action,
    })
}

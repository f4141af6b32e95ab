//! swap-nameservers (DESIGN step 7): point the registration at the new zone's servers,
//! and the old zone's own apex NS too. Its undoing is `rollback`.
//!
//! The old zone's apex NS is rewritten because resolvers that re-ask the old servers must be
//! sent on to the new ones: knot-resolver keeps re-caching the old servers' own NS set and
//! never moves otherwise (measured). Both functions are idempotent: what already points
//! where it should is left alone.

use crate::ports::hosted_zones::point_apex_ns;
use crate::ports::ledger::Ledger;
use crate::ports::registrar::point_registration;
use crate::settings::Settings;
use zonehop_core::request::RegistrarKind;
use zonehop_core::request::RegistrarRef;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::HostedZones;
use crate::ports::registrar::Registrar;
use crate::ports::retry::{RetryStats, Retrying};
use zonehop_core::delegation::canonical_servers;
use zonehop_core::request::{parse_domain, ZoneRef};
use zonehop_core::zone::bare_zone_id;

/// swap-nameservers' input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwapRequest {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    #[serde(default)]
    pub registrar: RegistrarRef,
    /// The Step Functions execution (`$$.Execution.Id`), for the log lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

/// swap-nameservers' output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapOutput {
    /// The name servers the registration and the old apex NS now point at.
    pub name_servers: Vec<String>,
    /// Empty for a `manual` registrar (zonehop cannot read it).
    pub registration_before: Vec<String>,
    /// Whether zonehop changed the registration (never for `manual`: the operator did).
    pub registration_changed: bool,
    pub operation_id: Option<String>,
    pub source_apex_ns_before: Vec<String>,
    pub source_apex_ns_changed: bool,
}

/// Step 7: the registration, then the old zone's apex NS, point at the new zone's servers.
pub async fn swap_nameservers<S: HostedZones, T: HostedZones, G: Registrar, L: Ledger, C: Clock>(
    source: &S,
    target: &T,
    registrar: &G,
    ledger: &L,
    clock: &C,
    request: &SwapRequest,
    settings: &Settings,
) -> Result<SwapOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let registrar = &Retrying::new(registrar, settings.retry, &stats);
    let domain = parse_domain(&request.domain)?;
    request.registrar.validate()?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target_id = bare_zone_id(request.target.required_id("target")?).to_owned();
    let target_zone = target.get_zone(&target_id).await?;
    if target_zone.name != domain {
        return Err(Error::ZoneNameMismatch {
            zone_id: target_id,
            expected: domain.to_string(),
            actual: target_zone.name.to_string(),
        });
    }
    let servers = canonical_servers(&target_zone.name_servers);
    if servers.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "target zone {target_id} has no name servers"
        )));
    }
    // A manual registration was changed by the operator before this runs: the state
    // machine waited for them (check-propagation watches the parent publish it).
    let (registration_before, operation_id) = match request.registrar.kind {
        RegistrarKind::Route53domains | RegistrarKind::Route53zone => {
            point_registration(
                registrar, ledger, clock, &domain, &servers, "swap", settings,
            )
            .await?
        }
        RegistrarKind::Manual => (Vec::new(), None),
    };
    let (source_apex_ns_before, source_apex_ns_changed) =
        point_apex_ns(source, clock, &source_id, &domain, &servers, settings).await?;
    Ok(SwapOutput {
        name_servers: servers,
        registration_before,
        registration_changed: operation_id.is_some(),
        operation_id,
        source_apex_ns_before,
        source_apex_ns_changed,
    })
}

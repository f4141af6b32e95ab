//! DESIGN step 7 and its undoing: point the registration at the new zone's servers (and
//! the old zone's own apex NS too), or put both back.
//!
//! The old zone's apex NS is rewritten because resolvers that re-ask the old servers must be
//! sent on to the new ones: knot-resolver keeps re-caching the old servers' own NS set and
//! never moves otherwise (measured). Both functions are idempotent: what already points
//! where it should is left alone.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::accounts::AccountAccess;
use crate::error::Error;
use crate::hosted_zones::{read_zone, wait_in_sync, HostedZones};
use crate::name::Name;
use crate::plan::{Action, Change};
use crate::registrar::{canonical_servers, Registrar};
use crate::request::{parse_domain, ZoneRef};
use crate::retry::{with_retry, RetryPolicy, RetryStats};
use crate::zone::{bare_zone_id, RecordSet, RrType};

/// Where the domain is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RegistrarKind {
    /// Route 53 Domains: zonehop updates the registration itself.
    #[default]
    Route53domains,
    /// Another registrar: the operator sets the name servers (the state machine waits).
    Manual,
}

/// The request's `registrar`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrarRef {
    #[serde(rename = "type", default)]
    pub kind: RegistrarKind,
    #[serde(flatten)]
    pub access: AccountAccess,
}

/// swap-nameservers' input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapRequest {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    #[serde(default)]
    pub registrar: RegistrarRef,
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

/// rollback's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackRequest {
    pub domain: String,
    pub source: ZoneRef,
    #[serde(default)]
    pub registrar: RegistrarRef,
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

/// Settings of both functions.
#[derive(Debug, Clone)]
pub struct SwapSettings {
    pub retry: RetryPolicy,
    /// How long a registrar operation may take before the function hands back a retryable
    /// `RegistrarOperationPending` (the state machine retries; the operation goes on).
    pub operation_timeout: Duration,
    pub in_sync_timeout: Duration,
}

impl Default for SwapSettings {
    fn default() -> Self {
        SwapSettings {
            retry: RetryPolicy::default(),
            operation_timeout: Duration::from_secs(600),
            in_sync_timeout: Duration::from_secs(600),
        }
    }
}

/// Points the registration at `servers` unless it already does; waits for the operation.
async fn point_registration<G: Registrar>(
    registrar: &G,
    domain: &Name,
    servers: &[String],
    settings: &SwapSettings,
    stats: &RetryStats,
) -> Result<(Vec<String>, Option<String>), Error> {
    let retry = &settings.retry;
    let before = with_retry(retry, stats, || registrar.name_servers(domain)).await?;
    if before == canonical_servers(servers) {
        return Ok((before, None));
    }
    let operation = with_retry(retry, stats, || {
        registrar.update_name_servers(domain, servers)
    })
    .await?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(500);
    loop {
        let status = with_retry(retry, stats, || registrar.operation_status(&operation)).await?;
        match status.as_str() {
            "SUCCESSFUL" => return Ok((before, Some(operation))),
            "ERROR" | "FAILED" => {
                return Err(Error::RegistrarOperationFailed {
                    operation_id: operation,
                    status,
                })
            }
            _ if started.elapsed() + pause > settings.operation_timeout => {
                return Err(Error::RegistrarOperationPending {
                    operation_id: operation,
                    status,
                    waited_seconds: started.elapsed().as_secs(),
                })
            }
            _ => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(15));
            }
        }
    }
}

/// Points the zone's own apex NS at `servers` (keeping its TTL) unless it already does.
async fn point_apex_ns<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    domain: &Name,
    servers: &[String],
    settings: &SwapSettings,
    stats: &RetryStats,
) -> Result<(Vec<String>, bool), Error> {
    let retry = &settings.retry;
    let zone = read_zone(r53, zone_id, retry, stats).await?;
    let apex_ns = zone
        .iter()
        .find(|r| r.name == *domain && r.rtype == RrType::NS)
        .cloned()
        .ok_or_else(|| Error::InvalidRequest(format!("zone {zone_id} has no apex NS record")))?;
    let before: Vec<String> = apex_ns.values().map(str::to_owned).collect();
    let wanted = canonical_servers(servers);
    if canonical_servers(&before) == wanted {
        return Ok((canonical_servers(&before), false));
    }
    let values: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let record = RecordSet::simple(
        domain.clone(),
        RrType::NS,
        apex_ns.ttl.unwrap_or(172_800),
        &values,
    );
    let change = [Change {
        action: Action::Upsert,
        record,
    }];
    let comment = format!("zonehop: apex NS of {domain}");
    let id = with_retry(retry, stats, || {
        r53.change_records(zone_id, &change, &comment)
    })
    .await?;
    wait_in_sync(r53, &id, settings.in_sync_timeout, retry, stats).await?;
    Ok((canonical_servers(&before), true))
}

/// What an operator must do at a registrar zonehop cannot reach.
fn operator_action(domain: &Name, servers: &[String]) -> String {
    format!(
        "set the name servers of {} at its registrar to: {}",
        domain.as_str().trim_end_matches('.'),
        servers.join(" ")
    )
}

/// Step 7: the registration, then the old zone's apex NS, point at the new zone's servers.
pub async fn swap_nameservers<S: HostedZones, T: HostedZones, G: Registrar>(
    source: &S,
    target: &T,
    registrar: &G,
    request: &SwapRequest,
    settings: &SwapSettings,
) -> Result<SwapOutput, Error> {
    let stats = RetryStats::default();
    let domain = parse_domain(&request.domain)?;
    request.registrar.access.validate("registrar")?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target_id = bare_zone_id(request.target.required_id("target")?).to_owned();
    let target_zone = with_retry(&settings.retry, &stats, || target.get_zone(&target_id)).await?;
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
        RegistrarKind::Route53domains => {
            point_registration(registrar, &domain, &servers, settings, &stats).await?
        }
        RegistrarKind::Manual => (Vec::new(), None),
    };
    let (source_apex_ns_before, source_apex_ns_changed) =
        point_apex_ns(source, &source_id, &domain, &servers, settings, &stats).await?;
    Ok(SwapOutput {
        name_servers: servers,
        registration_before,
        registration_changed: operation_id.is_some(),
        operation_id,
        source_apex_ns_before,
        source_apex_ns_changed,
    })
}

/// Rollback: the registration and the old zone's apex NS point at the old zone's own
/// servers again. Needs nothing from the failed run: the old zone knows its servers.
pub async fn rollback<S: HostedZones, G: Registrar>(
    source: &S,
    registrar: &G,
    request: &RollbackRequest,
    settings: &SwapSettings,
) -> Result<RollbackOutput, Error> {
    let stats = RetryStats::default();
    let domain = parse_domain(&request.domain)?;
    request.registrar.access.validate("registrar")?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let source_zone = with_retry(&settings.retry, &stats, || source.get_zone(&source_id)).await?;
    let servers = canonical_servers(&source_zone.name_servers);
    let (operation, operator_action) = match request.registrar.kind {
        RegistrarKind::Route53domains => {
            let (_, operation) =
                point_registration(registrar, &domain, &servers, settings, &stats).await?;
            (operation, None)
        }
        RegistrarKind::Manual => (None, Some(operator_action(&domain, &servers))),
    };
    let (_, apex_changed) =
        point_apex_ns(source, &source_id, &domain, &servers, settings, &stats).await?;
    Ok(RollbackOutput {
        name_servers: servers,
        registration_changed: operation.is_some(),
        source_apex_ns_changed: apex_changed,
        operator_action,
    })
}

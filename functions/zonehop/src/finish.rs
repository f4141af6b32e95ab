//! The small steps around the swap: DESIGN step 6 (lower the apex NS TTL of both zones),
//! step 9 (cutover: the same record change in both zones) and step 10 (finalize: restore
//! the NS TTL, remove the canaries, hand over the decommission checklist).

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::hosted_zones::{read_zone, wait_in_sync, HostedZones};
use crate::name::Name;
use crate::plan::{Action, Change};
use crate::request::{parse_domain, ZoneRef};
use crate::retry::{with_retry, RetryStats};
use crate::swap::SwapSettings;
use crate::verify::CANARY_LABEL;
use crate::zone::{bare_zone_id, RecordSet, RrType};

/// The request's `nsTtl`: the apex NS TTL during the move and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NsTtl {
    pub during: i64,
    pub after: i64,
}

impl Default for NsTtl {
    /// AWS's advice: 60-900 s during the move; 172800 s (2 days) after it.
    fn default() -> Self {
        NsTtl {
            during: 300,
            after: 172_800,
        }
    }
}

impl NsTtl {
    pub fn validate(&self) -> Result<(), Error> {
        for (field, ttl) in [("nsTtl.during", self.during), ("nsTtl.after", self.after)] {
            if !(1..=2_147_483_647).contains(&ttl) {
                return Err(Error::InvalidRequest(format!(
                    "{field} {ttl} is not a TTL (1..2147483647 s)"
                )));
            }
        }
        Ok(())
    }
}

/// The two zones of a migration, for the steps that touch both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BothZones {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    #[serde(default)]
    pub ns_ttl: NsTtl,
}

/// lower-ns-ttl's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LowerNsTtlOutput {
    pub previous_source_ttl: i64,
    pub previous_target_ttl: i64,
    /// How long resolvers may still hold the old zone's apex NS set with its old TTL: the
    /// state machine waits this out before the swap. Only the old side counts: the new zone
    /// was never delegated, so nobody holds its NS set. On a re-run after the TTLs were
    /// lowered the old TTL is gone from the zone, so the state machine keeps preflight's.
    pub wait_seconds: i64,
}

/// Sets the zone's apex NS TTL (values kept); returns the previous TTL.
async fn set_apex_ns_ttl<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    domain: &Name,
    ttl: i64,
    settings: &SwapSettings,
    stats: &RetryStats,
) -> Result<i64, Error> {
    let zone = read_zone(r53, zone_id, &settings.retry, stats).await?;
    let mut apex_ns = zone
        .iter()
        .find(|r| r.name == *domain && r.rtype == RrType::NS)
        .cloned()
        .ok_or_else(|| Error::InvalidRequest(format!("zone {zone_id} has no apex NS record")))?;
    let previous = apex_ns.ttl.unwrap_or(0);
    if previous == ttl {
        return Ok(previous);
    }
    apex_ns.ttl = Some(ttl);
    let change = [Change {
        action: Action::Upsert,
        record: apex_ns,
    }];
    let comment = format!("zonehop: apex NS TTL of {domain} to {ttl} s");
    let id = with_retry(&settings.retry, stats, || {
        r53.change_records(zone_id, &change, &comment)
    })
    .await?;
    wait_in_sync(r53, &id, settings.in_sync_timeout, &settings.retry, stats).await?;
    Ok(previous)
}

fn zone_ids(request: &BothZones) -> Result<(Name, String, String), Error> {
    let domain = parse_domain(&request.domain)?;
    request.ns_ttl.validate()?;
    request.source.access.validate("source")?;
    request.target.access.validate("target")?;
    let source = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target = bare_zone_id(request.target.required_id("target")?).to_owned();
    Ok((domain, source, target))
}

/// Step 6: both apex NS TTLs to `nsTtl.during`.
pub async fn lower_ns_ttl<S: HostedZones, T: HostedZones>(
    source: &S,
    target: &T,
    request: &BothZones,
    settings: &SwapSettings,
) -> Result<LowerNsTtlOutput, Error> {
    let stats = RetryStats::default();
    let (domain, source_id, target_id) = zone_ids(request)?;
    let ttl = request.ns_ttl.during;
    let previous_source_ttl =
        set_apex_ns_ttl(source, &source_id, &domain, ttl, settings, &stats).await?;
    let previous_target_ttl =
        set_apex_ns_ttl(target, &target_id, &domain, ttl, settings, &stats).await?;
    Ok(LowerNsTtlOutput {
        previous_source_ttl,
        previous_target_ttl,
        wait_seconds: previous_source_ttl,
    })
}

/// One record of the request's `cutover.records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CutoverRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub values: Vec<String>,
    #[serde(default = "default_cutover_ttl")]
    pub ttl: i64,
}

fn default_cutover_ttl() -> i64 {
    60
}

/// cutover's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CutoverRequest {
    #[serde(flatten)]
    pub zones: BothZones,
    pub records: Vec<CutoverRecord>,
}

/// cutover's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CutoverOutput {
    pub records: usize,
    pub source_changed: bool,
    pub target_changed: bool,
}

pub fn cutover_records(domain: &Name, records: &[CutoverRecord]) -> Result<Vec<RecordSet>, Error> {
    if records.is_empty() {
        return Err(Error::InvalidRequest("cutover.records is empty".into()));
    }
    records
        .iter()
        .map(|r| {
            let name = Name::parse(&r.name)
                .map_err(|e| Error::InvalidRequest(format!("cutover record {}: {e}", r.name)))?;
            if !name.is_at_or_below(domain) {
                return Err(Error::InvalidRequest(format!(
                    "cutover record {name} is not in {domain}"
                )));
            }
            let rtype = RrType::parse(&r.rtype)
                .filter(|t| !matches!(t, RrType::SOA | RrType::NS) || name != *domain)
                .ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "cutover record {name}: type {} cannot be cut over",
                        r.rtype
                    ))
                })?;
            if r.values.is_empty() || !(0..=2_147_483_647).contains(&r.ttl) {
                return Err(Error::InvalidRequest(format!(
                    "cutover record {name} {rtype}: needs values and a TTL"
                )));
            }
            let values: Vec<&str> = r.values.iter().map(String::as_str).collect();
            Ok(RecordSet::simple(name, rtype, r.ttl, &values))
        })
        .collect()
}

/// Applies the records as UPSERTs unless the zone already holds them exactly.
async fn upsert_unless_equal<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    records: &[RecordSet],
    settings: &SwapSettings,
    stats: &RetryStats,
) -> Result<bool, Error> {
    let zone = read_zone(r53, zone_id, &settings.retry, stats).await?;
    let changes: Vec<Change> = records
        .iter()
        .filter(|r| {
            !zone
                .get(&r.key())
                .is_some_and(|current| current.same_content(r))
        })
        .map(|r| Change {
            action: Action::Upsert,
            record: r.clone(),
        })
        .collect();
    if changes.is_empty() {
        return Ok(false);
    }
    let id = with_retry(&settings.retry, stats, || {
        r53.change_records(zone_id, &changes, "zonehop cutover")
    })
    .await?;
    wait_in_sync(r53, &id, settings.in_sync_timeout, &settings.retry, stats).await?;
    Ok(true)
}

/// Step 9: the same record change in BOTH zones, so users move within the record TTL
/// whichever zone their resolver still asks.
pub async fn cutover<S: HostedZones, T: HostedZones>(
    source: &S,
    target: &T,
    request: &CutoverRequest,
    settings: &SwapSettings,
) -> Result<CutoverOutput, Error> {
    let stats = RetryStats::default();
    let (domain, source_id, target_id) = zone_ids(&request.zones)?;
    let records = cutover_records(&domain, &request.records)?;
    let target_changed =
        upsert_unless_equal(target, &target_id, &records, settings, &stats).await?;
    let source_changed =
        upsert_unless_equal(source, &source_id, &records, settings, &stats).await?;
    Ok(CutoverOutput {
        records: records.len(),
        source_changed,
        target_changed,
    })
}

/// finalize's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalizeOutput {
    pub ns_ttl: i64,
    pub canaries_removed: usize,
    /// What the operator does next; zonehop never deletes the old zone.
    pub decommission_checklist: Vec<String>,
}

async fn remove_canary<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    domain: &Name,
    settings: &SwapSettings,
    stats: &RetryStats,
) -> Result<bool, Error> {
    let canary = domain
        .prepend(CANARY_LABEL)
        .map_err(|e| Error::InvalidRequest(format!("canary name: {e}")))?;
    let zone = read_zone(r53, zone_id, &settings.retry, stats).await?;
    let Some(record) = zone
        .iter()
        .find(|r| r.name == canary && r.rtype == RrType::TXT)
        .cloned()
    else {
        return Ok(false);
    };
    let change = [Change {
        action: Action::Delete,
        record,
    }];
    let id = with_retry(&settings.retry, stats, || {
        r53.change_records(zone_id, &change, "zonehop: remove the canary")
    })
    .await?;
    wait_in_sync(r53, &id, settings.in_sync_timeout, &settings.retry, stats).await?;
    Ok(true)
}

/// Step 10: apex NS TTLs to `nsTtl.after`, canaries removed, the checklist.
pub async fn finalize<S: HostedZones, T: HostedZones>(
    source: &S,
    target: &T,
    request: &BothZones,
    settings: &SwapSettings,
) -> Result<FinalizeOutput, Error> {
    let stats = RetryStats::default();
    let (domain, source_id, target_id) = zone_ids(request)?;
    let ttl = request.ns_ttl.after;
    set_apex_ns_ttl(target, &target_id, &domain, ttl, settings, &stats).await?;
    set_apex_ns_ttl(source, &source_id, &domain, ttl, settings, &stats).await?;
    let removed = usize::from(remove_canary(target, &target_id, &domain, settings, &stats).await?)
        + usize::from(remove_canary(source, &source_id, &domain, settings, &stats).await?);
    Ok(FinalizeOutput {
        ns_ttl: ttl,
        canaries_removed: removed,
        decommission_checklist: vec![
            format!("Keep the old zone {source_id} unchanged for at least 48 hours more; zonehop never deletes it."),
            format!("Publish any record change in both zones ({source_id} and {target_id}) until the old zone is deleted."),
            format!("Re-create the health checks and traffic policies of the old account in the new one if any records used them."),
            format!("If DNSSEC is wanted, enable signing on {target_id} and add its DS at the registrar only after the old zone is retired."),
            format!("Then delete zone {source_id} (a hosted zone costs $0.50 a month); subdomains kept behind keep their own zones."),
        ],
    })
}

//! cutover (DESIGN step 9): the same record change in both zones, so that whichever zone a
//! resolver asks, it gets the new value (bounded by the record TTL, not the delegation's).
use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::change_and_wait;
use crate::ports::hosted_zones::read_zone;
use crate::ports::hosted_zones::HostedZones;
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use zonehop_core::change::Action;
use zonehop_core::change::Change;
use zonehop_core::request::cutover_records;
use zonehop_core::request::BothZones;
use zonehop_core::request::CutoverRecord;
use zonehop_core::zone::RecordSet;

/// cutover's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(from = "CutoverFields")]
pub struct CutoverRequest {
    #[serde(flatten)]
    pub zones: BothZones,
    pub records: Vec<CutoverRecord>,
}

/// Every key cutover's input may hold (the state machine sends exactly these); any other
/// is refused.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CutoverFields {
    domain: String,
    source: zonehop_core::request::ZoneRef,
    target: zonehop_core::request::ZoneRef,
    #[serde(default)]
    ns_ttl: zonehop_core::request::NsTtl,
    records: Vec<CutoverRecord>,
    #[serde(default)]
    execution_id: Option<String>,
}

impl From<CutoverFields> for CutoverRequest {
    fn from(fields: CutoverFields) -> Self {
        CutoverRequest {
            zones: BothZones {
                execution_id: fields.execution_id,
                domain: fields.domain,
                source: fields.source,
                target: fields.target,
                ns_ttl: fields.ns_ttl,
                registrar: Default::default(),
                keep_in_source: Vec::new(),
                health_checks: Default::default(),
            },
            records: fields.records,
        }
    }
}

/// cutover's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CutoverOutput {
    pub records: usize,
    pub source_changed: bool,
    pub target_changed: bool,
}

/// Applies the records as UPSERTs unless the zone already holds them exactly.
async fn upsert_unless_equal<R: HostedZones, C: Clock>(
    r53: &R,
    clock: &C,
    zone_id: &str,
    records: &[RecordSet],
    settings: &Settings,
) -> Result<bool, Error> {
    let zone = read_zone(r53, zone_id).await?;
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
    change_and_wait(
        r53,
        clock,
        zone_id,
        &changes,
        "zonehop cutover",
        settings.in_sync_timeout,
    )
    .await?;
    Ok(true)
}

/// Step 9: the same record change in BOTH zones, so users move within the record TTL
/// whichever zone their resolver still asks.
pub async fn cutover<S: HostedZones, T: HostedZones, C: Clock>(
    source: &S,
    target: &T,
    clock: &C,
    request: &CutoverRequest,
    settings: &Settings,
) -> Result<CutoverOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let (domain, source_id, target_id) = request.zones.validated()?;
    let records = cutover_records(&domain, &request.records)?;
    let target_changed = upsert_unless_equal(target, clock, &target_id, &records, settings).await?;
    let source_changed = upsert_unless_equal(source, clock, &source_id, &records, settings).await?;
    Ok(CutoverOutput {
        records: records.len(),
        source_changed,
        target_changed,
    })
}

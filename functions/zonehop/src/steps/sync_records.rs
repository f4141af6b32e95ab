//! DESIGN step 4: make the target zone hold what the source holds, and prove it.
//!
//! Read both zones, plan, apply in batches (one request in flight per zone, phases in
//! order), wait for INSYNC, then re-read the target and plan again: the sync is done only
//! when that second plan is empty. A second run therefore makes no change call.

use crate::ports::hosted_zones::apply_batches;
use crate::settings::Settings;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ports::hosted_zones::{check_is_public_zone_of, read_zone, HostedZones};
use crate::ports::retry::{RetryStats, Retrying};
use zonehop_core::change::Action;
use zonehop_core::plan::{plan_sync, HealthCheckPolicy, PlanInput, SyncPlan, Warning};
use zonehop_core::request::{parse_domain, parse_keep_in_source, ZoneFields, ZoneRef};
use zonehop_core::zone::{bare_zone_id, RecordSet};

/// The target side of the request, as sync-records reads it. Deserialized through
/// [`ZoneFields`], which refuses unknown keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "ZoneFields")]
pub struct SyncTarget {
    #[serde(flatten)]
    pub zone: ZoneRef,
    /// True when the target zone existed before the migration (create-zone says so). Its
    /// records are then protected by `maxOverwrites`. Defaults to true: the safe side.
    #[serde(default = "default_true")]
    pub adopted: bool,
}

fn default_true() -> bool {
    true
}

impl From<ZoneFields> for SyncTarget {
    fn from(fields: ZoneFields) -> Self {
        SyncTarget {
            adopted: fields.adopted.unwrap_or_else(default_true),
            zone: ZoneRef::from(fields),
        }
    }
}

/// sync-records' input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncRequest {
    pub domain: String,
    pub source: ZoneRef,
    pub target: SyncTarget,
    #[serde(default)]
    pub keep_in_source: Vec<String>,
    #[serde(default)]
    pub health_checks: HealthCheckPolicy,
    /// How many records that already exist in an adopted target may be deleted or
    /// overwritten. Zero by default: an adopted zone is never changed behind its owner's back.
    #[serde(default)]
    pub max_overwrites: usize,
    /// Records the target must hold beyond the source's (the canary, delegations).
    #[serde(default)]
    pub extra_records: Vec<RecordSet>,
    /// Plan only: return the plan and write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The Step Functions execution (`$$.Execution.Id`), for the log lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

/// How many of a list we show in an output (the state payload is limited to 256 KiB).
const SHOWN: usize = 25;

/// sync-records' output: small, whatever the zone's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncOutput {
    pub target_zone_id: String,
    pub dry_run: bool,
    pub source_records: usize,
    pub creates: usize,
    pub upserts: usize,
    pub deletes: usize,
    /// ChangeResourceRecordSets requests sent (or, for a dry run, that would be sent).
    pub change_calls: usize,
    /// The fewest requests the batch limits allow for this plan.
    pub change_calls_lower_bound: usize,
    pub retries: u32,
    pub in_sync: bool,
    pub warnings: Vec<Warning>,
    /// The first changes, as text (all of them are in the logs).
    pub sample: Vec<String>,
}

/// Syncs `source` into `target` (clients already acting in each account).
pub async fn sync_records<S: HostedZones, T: HostedZones>(
    source: &S,
    target: &T,
    request: &SyncRequest,
    settings: &Settings,
) -> Result<SyncOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let domain = parse_domain(&request.domain)?;
    let keep = parse_keep_in_source(&domain, &request.keep_in_source)?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target_id = bare_zone_id(request.target.zone.required_id("target")?).to_owned();
    request.source.access.validate("source")?;
    request.target.zone.access.validate("target")?;
    if source_id == target_id {
        return Err(Error::InvalidRequest(format!(
            "source and target are the same zone {source_id}"
        )));
    }
    for extra in &request.extra_records {
        if !extra.name.is_at_or_below(&domain) {
            return Err(Error::InvalidRequest(format!(
                "extraRecords: {} is not in {domain}",
                extra.name
            )));
        }
    }

    let source_zone = source.get_zone(&source_id).await?;
    check_is_public_zone_of(&source_zone, &domain)?;
    let target_zone = target.get_zone(&target_id).await?;
    check_is_public_zone_of(&target_zone, &domain)?;

    let source_records = read_zone(source, &source_id).await?;
    let target_records = read_zone(target, &target_id).await?;
    let input = PlanInput {
        apex: &domain,
        source_zone_id: &source_id,
        target_zone_id: &target_id,
        keep_in_source: &keep,
        health_checks: request.health_checks,
        extra_records: &request.extra_records,
        limits: settings.limits,
    };
    let plan = plan_sync(&input, &source_records, &target_records);
    if !plan.blockers.is_empty() {
        return Err(Error::MigrationBlocked {
            blockers: plan.blockers,
        });
    }
    let batches = plan.batches(settings.limits);
    let mut output = SyncOutput {
        target_zone_id: target_id.clone(),
        dry_run: request.dry_run,
        source_records: source_records.len(),
        creates: plan.count(Action::Create),
        upserts: plan.count(Action::Upsert),
        deletes: plan.count(Action::Delete),
        change_calls: batches.len(),
        change_calls_lower_bound: plan.lower_bound(settings.limits),
        retries: 0,
        in_sync: false,
        warnings: plan.warnings.clone(),
        sample: plan
            .changes()
            .take(SHOWN)
            .map(|c| format!("{:?} {}", c.action, c.record.key()))
            .collect(),
    };
    if request.dry_run {
        return Ok(output);
    }
    if request.target.adopted && plan.overwrites.len() > request.max_overwrites {
        return Err(Error::OverwriteLimitExceeded {
            zone_id: target_id,
            limit: request.max_overwrites,
            records: plan.overwrites.iter().map(ToString::to_string).collect(),
        });
    }

    if batches.is_empty() {
        // Nothing to write: the plan was made from the target as it is.
        output.in_sync = true;
        output.retries = stats.retried();
        return Ok(output);
    }
    apply_batches(target, &target_id, &domain, &batches, settings).await?;

    // Prove it: the target, read again, needs no further change.
    let after = read_zone(target, &target_id).await?;
    let check = plan_sync(&input, &source_records, &after);
    if !check.is_empty() {
        return Err(Error::TargetDiverged {
            zone_id: target_id,
            differences: describe(&check),
        });
    }
    output.in_sync = true;
    output.retries = stats.retried();
    Ok(output)
}

fn describe(plan: &SyncPlan) -> Vec<String> {
    plan.changes()
        .take(SHOWN)
        .map(|c| format!("{:?} needed for {}", c.action, c.record.key()))
        .collect()
}

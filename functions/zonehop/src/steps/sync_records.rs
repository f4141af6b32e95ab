//! DESIGN step 4: make the target zone hold what the source holds, and prove it.
//!
//! Read both zones, plan, apply in batches (one request in flight per zone, phases in
//! order), wait for INSYNC, then re-read the target and plan again: the sync is done only
//! when that second plan is empty. A second run therefore makes no change call.

use crate::ports::hosted_zones::apply_batches;
use crate::settings::Settings;

use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use crate::error::Error;
use crate::ports::carry::{apply_carry, plan_carry, with_changes, CarryScope, CarrySummary};
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::{check_is_public_zone_of, read_zone, HostedZones};
use crate::ports::ledger::{load_baseline, save_baseline, Ledger};
use crate::ports::retry::{RetryStats, Retrying};
use zonehop_core::change::Action;
use zonehop_core::drift::{own_records, Baseline};
use zonehop_core::plan::{plan_sync, HealthCheckPolicy, PlanInput, SyncPlan, Warning};
use zonehop_core::request::{parse_domain, parse_keep_in_source, ZoneFields, ZoneRef};
use zonehop_core::zone::RecordKey;
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
    /// What was carried between the zones before the sync: edits made in either zone since
    /// zonehop last wrote to them.
    #[serde(default)]
    pub carry: CarrySummary,
}

/// How many copies and conflicts of the carry the output names.
const CARRY_SHOWN: usize = 10;

/// Syncs `source` into `target` (clients already acting in each account), carrying first
/// what was edited in either zone since zonehop last wrote to them (the ledger's baseline),
/// and saving the new baseline.
pub async fn sync_records<S: HostedZones, T: HostedZones, L: Ledger, C: Clock>(
    source: &S,
    target: &T,
    ledger: &L,
    clock: &C,
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

    let scope = CarryScope {
        domain: &domain,
        keep_in_source: &keep,
        health_checks: request.health_checks,
        source_id: &source_id,
        target_id: &target_id,
    };
    let now = clock.now_epoch();
    let mut source_records = read_zone(source, &source_id).await?;
    let mut target_records = read_zone(target, &target_id).await?;
    // Edits made in either zone since zonehop last wrote to them are carried: the new
    // zone's (a creation, change or deletion, and a conflict's winner) into the old zone
    // first, so that the sync does not undo them; the old zone's then reach the new one
    // through the sync itself, in its order (alias targets before their aliases).
    let mut carried = None;
    if !request.dry_run {
        if let Some(baseline) = baseline_for(ledger, &scope, request.target.adopted).await? {
            let forms = scope.forms(source_records, target_records, settings.limits);
            let plan = plan_carry(&scope, &forms, &baseline);
            apply_carry(
                source,
                clock,
                &source_id,
                &domain,
                &plan.to_source,
                settings,
            )
            .await?;
            source_records = with_changes(forms.source, &plan.to_source);
            target_records = forms.target;
            carried = Some(plan);
        }
    }
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
        carry: carried
            .as_ref()
            .map(|p| CarrySummary::of(p, CARRY_SHOWN))
            .unwrap_or_default(),
    };
    if request.dry_run {
        return Ok(output);
    }
    if carried.is_none() && request.target.adopted && plan.overwrites.len() > request.max_overwrites
    {
        return Err(Error::OverwriteLimitExceeded {
            zone_id: target_id,
            limit: request.max_overwrites,
            records: plan.overwrites.iter().map(ToString::to_string).collect(),
        });
    }

    if !batches.is_empty() {
        apply_batches(target, clock, &target_id, &domain, &batches, settings).await?;
        // Prove it: the target, read again, needs no further change (a record set edited
        // by someone else meanwhile, which this pass did not write, is the next carry's).
        let after = read_zone(target, &target_id).await?;
        let written: BTreeSet<RecordKey> = plan.changes().map(|c| c.record.key()).collect();
        let mut check = plan_sync(&input, &source_records, &after);
        if carried.is_some() {
            for phase in &mut check.phases {
                phase.retain(|c| written.contains(&c.record.key()));
            }
        }
        if !check.is_empty() {
            return Err(Error::TargetDiverged {
                zone_id: target_id,
                differences: describe(&check),
            });
        }
    }
    // What both zones hold now, less each side's own records: the next carry's baseline.
    let agreed = match carried {
        Some(plan) => plan.after,
        None => Baseline::of(&plan.desired, &own_records(&domain)),
    };
    save_baseline(ledger, &domain, scope.zones(), &agreed, now).await?;
    output.in_sync = true;
    output.retries = stats.retried();
    Ok(output)
}

/// The baseline the sync carries against: the one saved for these zones; or, for a zone
/// this migration created (not adopted) for which none was ever saved, an empty one: what is
/// in it besides zonehop's own records was written there, and is carried to the old zone.
/// An adopted zone without one is synced as before, within `maxOverwrites`; so is any zone
/// when the ledger keeps nothing (no table).
async fn baseline_for<L: Ledger>(
    ledger: &L,
    scope: &CarryScope<'_>,
    adopted: bool,
) -> Result<Option<Baseline>, Error> {
    if let Some(saved) = load_baseline(ledger, scope.domain, scope.zones()).await? {
        return Ok(Some(saved));
    }
    Ok((!adopted && ledger.remembers()).then(Baseline::default))
}

fn describe(plan: &SyncPlan) -> Vec<String> {
    plan.changes()
        .take(SHOWN)
        .map(|c| format!("{:?} needed for {}", c.action, c.record.key()))
        .collect()
}

//! Keeping the two zones one, as sync-records, carry-edits, check-propagation and finalize
//! share it: each zone seen in the other's form, what they differ on, and one carry (plan
//! with [`zonehop_core::drift`], apply both ways, remember in the ledger).
//!
//! The baseline (what both zones agreed on after zonehop last wrote to them) is saved by
//! every sync-records pass and every carry, from the first moment the target holds records,
//! so that a creation, a change or a deletion on either side at any moment is seen as what
//! it is and carried; the same record set changed differently on both sides (a deletion
//! against a change included) is a conflict the new side wins.

use tracing::{info, warn};
use zonehop_core::batch::BatchLimits;
use zonehop_core::change::{Action, Change};
use zonehop_core::drift::{differing_keys, plan_drift, Baseline, DriftPlan, Sides};
use zonehop_core::plan::{plan_sync, HealthCheckPolicy, PlanInput, SyncPlan};
use zonehop_core::zone::{RecordKey, Zone};
use zonehop_core::Name;

use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::{apply_batches, HostedZones};
use crate::ports::ledger::ZonePair;
use crate::settings::Settings;

/// The two zones of a migration and what moves between them.
#[derive(Debug, Clone, Copy)]
pub struct CarryScope<'a> {
    pub domain: &'a Name,
    pub keep_in_source: &'a [Name],
    pub health_checks: HealthCheckPolicy,
    pub source_id: &'a str,
    pub target_id: &'a str,
}

/// Both zones as read, each also in the other's form.
#[derive(Debug)]
pub struct BothForms {
    pub source: Zone,
    pub source_as_target: Zone,
    pub target: Zone,
    pub target_as_source: Zone,
}

impl BothForms {
    pub fn sides(&self) -> Sides<'_> {
        Sides {
            source: &self.source,
            source_as_target: &self.source_as_target,
            target: &self.target,
            target_as_source: &self.target_as_source,
        }
    }
}

impl<'a> CarryScope<'a> {
    pub fn zones(&self) -> ZonePair<'a> {
        ZonePair {
            source: self.source_id,
            target: self.target_id,
        }
    }

    /// `from` (zone `from_id`) as sync-records would write it into `to_id`: same-zone alias
    /// targets renamed, kept subtrees and each side's own records left out.
    fn in_other_form(&self, from: &Zone, from_id: &str, to_id: &str, limits: BatchLimits) -> Zone {
        plan_sync(
            &PlanInput {
                apex: self.domain,
                source_zone_id: from_id,
                target_zone_id: to_id,
                keep_in_source: self.keep_in_source,
                health_checks: self.health_checks,
                extra_records: &[],
                limits,
            },
            from,
            &Zone::default(),
        )
        .desired
    }

    /// Both zones, each also in the other's form.
    pub fn forms(&self, source: Zone, target: Zone, limits: BatchLimits) -> BothForms {
        let source_as_target = self.in_other_form(&source, self.source_id, self.target_id, limits);
        let target_as_source = self.in_other_form(&target, self.target_id, self.source_id, limits);
        BothForms {
            source,
            source_as_target,
            target,
            target_as_source,
        }
    }

    /// The record sets the zones differ on now: edits not carried yet.
    pub fn differing(&self, forms: &BothForms) -> Vec<RecordKey> {
        differing_keys(&forms.sides(), self.domain)
    }
}

/// Plans one carry between the zones as read against `baseline` (and logs it): the target's
/// edits go to the source, the source's to the target, a conflict to the new side's version.
/// The plan's `after` is what both zones hold once it is applied (the next baseline).
pub fn plan_carry(scope: &CarryScope<'_>, forms: &BothForms, baseline: &Baseline) -> DriftPlan {
    let plan = plan_drift(&forms.sides(), baseline, scope.domain);
    for conflict in &plan.conflicts {
        warn!(
            record = %conflict.record,
            source = %serde_json::to_string(&conflict.source).unwrap_or_default(),
            target = %serde_json::to_string(&conflict.target).unwrap_or_default(),
            "conflict: the record set changed differently in both zones; the new side's version wins"
        );
    }
    for change in &plan.to_target {
        info!(change = %describe(change), "carried from the old zone to the new");
    }
    for change in &plan.to_source {
        info!(change = %describe(change), "carried from the new zone to the old");
    }
    plan
}

/// Plans one carry ([`plan_carry`]) and applies it both ways.
pub async fn carry_between<S: HostedZones, T: HostedZones, C: Clock>(
    source: &S,
    target: &T,
    clock: &C,
    scope: &CarryScope<'_>,
    forms: &BothForms,
    baseline: &Baseline,
    settings: &Settings,
) -> Result<DriftPlan, Error> {
    let plan = plan_carry(scope, forms, baseline);
    apply_carry(
        target,
        clock,
        scope.target_id,
        scope.domain,
        &plan.to_target,
        settings,
    )
    .await?;
    apply_carry(
        source,
        clock,
        scope.source_id,
        scope.domain,
        &plan.to_source,
        settings,
    )
    .await?;
    Ok(plan)
}

/// `UPSERT www.example.com. A`.
pub fn describe(change: &Change) -> String {
    format!("{:?} {}", change.action, change.record.key())
}

/// The copies of a carry as text, old to new first (at most `shown`).
pub fn copied(plan: &DriftPlan, shown: usize) -> Vec<String> {
    plan.to_target
        .iter()
        .map(|c| format!("{} (old to new)", describe(c)))
        .chain(
            plan.to_source
                .iter()
                .map(|c| format!("{} (new to old)", describe(c))),
        )
        .take(shown)
        .collect()
}

/// Applies `changes` to one zone: deletes first (aliases before what they point at), then
/// the upserts (plain records before the aliases that may point at them).
pub async fn apply_carry<R: HostedZones, C: Clock>(
    zones: &R,
    clock: &C,
    zone_id: &str,
    domain: &Name,
    changes: &[Change],
    settings: &Settings,
) -> Result<(), Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let phase = |delete: bool, alias: bool| -> Vec<Change> {
        changes
            .iter()
            .filter(|c| (c.action == Action::Delete) == delete)
            .filter(|c| c.record.alias_target.is_some() == alias)
            .cloned()
            .collect()
    };
    let plan = SyncPlan {
        phases: vec![
            phase(true, true),
            phase(true, false),
            phase(false, false),
            phase(false, true),
        ]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect(),
        ..SyncPlan::default()
    };
    apply_batches(
        zones,
        clock,
        zone_id,
        domain,
        &plan.batches(settings.limits),
        settings,
    )
    .await?;
    Ok(())
}

/// `zone` with `changes` applied (what a zone holds once they are written).
pub fn with_changes(mut zone: Zone, changes: &[Change]) -> Zone {
    for change in changes {
        match change.action {
            Action::Delete => {
                zone.remove(&change.record.key());
            }
            Action::Create | Action::Upsert => zone.insert(change.record.clone()),
        }
    }
    zone
}

/// What a carry copied, for a step's output (small whatever the zone).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarrySummary {
    /// Record sets copied from the old zone to the new, and the other way.
    pub to_target: usize,
    pub to_source: usize,
    /// The first copies, as `UPSERT www.example.com. A (old to new)`.
    pub copied: Vec<String>,
    pub conflict_count: usize,
    /// The first conflicts, with both versions (the new side's won).
    pub conflicts: Vec<zonehop_core::drift::Conflict>,
}

impl CarrySummary {
    pub fn of(plan: &DriftPlan, shown: usize) -> CarrySummary {
        CarrySummary {
            to_target: plan.to_target.len(),
            to_source: plan.to_source.len(),
            copied: copied(plan, shown),
            conflict_count: plan.conflicts.len(),
            conflicts: plan.conflicts.iter().take(shown).cloned().collect(),
        }
    }
}

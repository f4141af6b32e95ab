//! carry-edits (DESIGN step 8, each round of the window): keep the two zones one. Every
//! record set written in either zone since the last round (an IaC pipeline, external-dns,
//! an ACME challenge) is copied to the other, so that a resolver on either side gives the
//! same answer within one round plus the record's TTL; the same record set changed
//! differently on both sides is a conflict that the new side wins, reported with both
//! versions. What the zones agreed on is kept in the ledger between rounds
//! (`zonehop_core::drift`).

use serde::{Deserialize, Serialize};
use zonehop_core::plan::HealthCheckPolicy;
use zonehop_core::request::{parse_domain, parse_keep_in_source, ZoneRef};
use zonehop_core::zone::bare_zone_id;

use crate::error::Error;
use crate::ports::carry::{carry_between, CarryScope, CarrySummary};
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::{check_is_public_zone_of, read_zone, HostedZones};
use crate::ports::ledger::{baseline_saved, load_baseline, save_baseline, Ledger};
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CarryRequest {
    pub domain: String,
    pub source: ZoneRef,
    pub target: ZoneRef,
    #[serde(default)]
    pub keep_in_source: Vec<String>,
    #[serde(default)]
    pub health_checks: HealthCheckPolicy,
    /// The Step Functions execution (`$$.Execution.Id`), for the log lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::min_interval_seconds;

    #[test]
    fn reading_the_zones_stays_within_the_share_of_each_accounts_request_rate() {
        // 10,000 record sets: 1 + 34 requests per zone, 0.5 a second at a tenth of five.
        assert_eq!(min_interval_seconds(10_000, 0.1), 70);
        assert_eq!(min_interval_seconds(100, 0.1), 4);
        assert_eq!(min_interval_seconds(0, 0.1), 2);
        assert_eq!(min_interval_seconds(10_000, 1.0), 7);
    }
}

/// At most this many copies and conflicts are named in the output (the state stays small);
/// the log has every one.
const SHOWN: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarryOutput {
    /// What was copied each way, and the conflicts with both versions (the first 10 of
    /// each named): `toTarget`, `toSource`, `copied`, `conflictCount`, `conflicts`, at the
    /// top level of the output as sync-records' and finalize's `carry` has them.
    #[serde(flatten)]
    pub carried: CarrySummary,
    /// True when the ledger held no baseline for these zones (a deployment without a ledger,
    /// or a baseline saved before this version): a record set on one side only counts as
    /// written there, and one that differs is a conflict. sync-records saves the baseline
    /// from its first pass on, so a migration's first round has one.
    pub first_round: bool,
    pub record_sets: usize,
    pub retries: u32,
    /// Not 0 when this round read nothing: the last round was too recent for the zones'
    /// size (`ZONEHOP_CARRY_BUDGET_SHARE`); the next round that may read is this far off.
    pub skipped_for_seconds: i64,
}

/// Route 53's request rate per account (AWS-FACTS: five a second, shared by every tool).
const ROUTE53_REQUESTS_PER_SECOND: f64 = 5.0;
/// Record sets per ListResourceRecordSets page.
const PAGE: u64 = 300;

/// The shortest time between two rounds that read a zone of `record_sets` record sets, so
/// that reading it (one GetHostedZone, one ListResourceRecordSets per page of 300) takes at
/// most `share` of its account's request rate: 68 s for 10,000 record sets at 0.1.
pub fn min_interval_seconds(record_sets: u64, share: f64) -> i64 {
    let requests = 1 + record_sets.div_ceil(PAGE);
    let seconds = requests as f64 / (share.clamp(0.001, 1.0) * ROUTE53_REQUESTS_PER_SECOND);
    seconds.ceil() as i64
}

pub async fn carry_edits<S: HostedZones, T: HostedZones, L: Ledger, C: Clock>(
    source: &S,
    target: &T,
    ledger: &L,
    clock: &C,
    request: &CarryRequest,
    settings: &Settings,
) -> Result<CarryOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let domain = parse_domain(&request.domain)?;
    let keep = parse_keep_in_source(&domain, &request.keep_in_source)?;
    let source_id = bare_zone_id(request.source.required_id("source")?).to_owned();
    let target_id = bare_zone_id(request.target.required_id("target")?).to_owned();
    if source_id == target_id {
        return Err(Error::InvalidRequest(format!(
            "source and target are the same zone {source_id}"
        )));
    }
    let scope = CarryScope {
        domain: &domain,
        keep_in_source: &keep,
        health_checks: request.health_checks,
        source_id: &source_id,
        target_id: &target_id,
    };
    let now = clock.now_epoch();
    if let Some((saved_at, record_sets)) = baseline_saved(ledger, &domain, scope.zones()).await? {
        let wait = min_interval_seconds(record_sets, settings.carry_budget_share);
        if now - saved_at < wait {
            return Ok(CarryOutput {
                skipped_for_seconds: wait - (now - saved_at),
                record_sets: usize::try_from(record_sets).unwrap_or(usize::MAX),
                ..CarryOutput::default()
            });
        }
    }
    check_is_public_zone_of(&source.get_zone(&source_id).await?, &domain)?;
    check_is_public_zone_of(&target.get_zone(&target_id).await?, &domain)?;
    let forms = scope.forms(
        read_zone(source, &source_id).await?,
        read_zone(target, &target_id).await?,
        settings.limits,
    );
    let baseline = load_baseline(ledger, &domain, scope.zones()).await?;
    let first_round = baseline.is_none();
    let plan = carry_between(
        source,
        target,
        clock,
        &scope,
        &forms,
        &baseline.unwrap_or_default(),
        settings,
    )
    .await?;
    save_baseline(ledger, &domain, scope.zones(), &plan.after, now).await?;
    Ok(CarryOutput {
        carried: CarrySummary::of(&plan, SHOWN),
        record_sets: plan.after.0.len(),
        first_round,
        retries: stats.retried(),
        skipped_for_seconds: 0,
    })
}

//! finalize (DESIGN step 10): carry the last edits, restore the apex NS TTL, remove the
//! canaries, hand over the decommission checklist. The old zone is never deleted by zonehop.
use crate::error::Error;
use crate::ports::carry::{carry_between, CarryScope, CarrySummary};
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::change_and_wait;
use crate::ports::hosted_zones::read_zone;
use crate::ports::hosted_zones::set_apex_ns_ttl;
use crate::ports::hosted_zones::HostedZones;
use crate::ports::ledger::{load_baseline, save_baseline, Ledger};
use crate::ports::parent_zone::ParentZone;
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use zonehop_core::canary::CANARY_LABEL;
use zonehop_core::change::Action;
use zonehop_core::change::Change;
use zonehop_core::name::Name;
use zonehop_core::request::parse_keep_in_source;
use zonehop_core::request::BothZones;
use zonehop_core::zone::RrType;
use zonehop_core::zone::Zone;

/// finalize's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalizeOutput {
    pub ns_ttl: i64,
    /// The parent's NS TTL for the domain, where finalize raised it (`route53zone` with
    /// `lowerNsTtl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ns_ttl: Option<i64>,
    pub canaries_removed: usize,
    /// The last carry: what was edited in either zone since the last round of the window
    /// (after "safe" included) and copied to the other.
    pub carry: CarrySummary,
    /// When the last carry read the zones (epoch seconds): an edit made in the old zone
    /// after this moment is no longer carried to the new one. `None` when no baseline was
    /// found (a deployment without a ledger), so nothing was carried.
    pub carried_until: Option<i64>,
    /// What the operator does next; zonehop never deletes the old zone.
    pub decommission_checklist: Vec<String>,
}

/// Removes the canary from `zone`, as read from `zone_id` by the caller.
async fn remove_canary<R: HostedZones, C: Clock>(
    r53: &R,
    clock: &C,
    (zone_id, zone): (&str, &Zone),
    domain: &Name,
    settings: &Settings,
) -> Result<bool, Error> {
    let canary = domain
        .prepend(CANARY_LABEL)
        .map_err(|e| Error::InvalidRequest(format!("canary name: {e}")))?;
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
    change_and_wait(
        r53,
        clock,
        zone_id,
        &change,
        "zonehop: remove the canary",
        settings.in_sync_timeout,
    )
    .await?;
    Ok(true)
}

/// The last carry: both zones read once more and what either side edited since the last
/// round copied to the other (the window's rule: the new side wins a conflict). Returns
/// what it carried and when it read the zones; nothing without a baseline.
async fn last_carry<S: HostedZones, T: HostedZones, L: Ledger, C: Clock>(
    source: &S,
    target: &T,
    (ledger, clock): (&L, &C),
    scope: &CarryScope<'_>,
    settings: &Settings,
) -> Result<(CarrySummary, Option<i64>), Error> {
    let Some(baseline) = load_baseline(ledger, scope.domain, scope.zones()).await? else {
        warn!("no baseline in the ledger for these zones: the last carry is skipped");
        return Ok((CarrySummary::default(), None));
    };
    let read_at = clock.now_epoch();
    let forms = scope.forms(
        read_zone(source, scope.source_id).await?,
        read_zone(target, scope.target_id).await?,
        settings.limits,
    );
    let plan = carry_between(source, target, clock, scope, &forms, &baseline, settings).await?;
    save_baseline(ledger, scope.domain, scope.zones(), &plan.after, read_at).await?;
    info!(
        carried_until = read_at,
        "the last carry is done: an edit in the old zone from now on stays there"
    );
    Ok((CarrySummary::of(&plan, SHOWN), Some(read_at)))
}

/// ISO 8601 (UTC) of seconds since the epoch.
fn iso_utc(seconds: i64) -> String {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from_secs(seconds)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| seconds.to_string())
}

/// How many copies and conflicts of the last carry the output names.
const SHOWN: usize = 10;

/// Step 10: the last carry, apex NS TTLs to `nsTtl.after` (and the parent's delegation TTL,
/// where lower-ns-ttl lowered it in a `route53zone` parent), canaries removed, the checklist.
pub async fn finalize<S: HostedZones, T: HostedZones, P: HostedZones, L: Ledger, C: Clock>(
    source: &S,
    target: &T,
    parent: Option<&ParentZone<P>>,
    memory: (&L, &C),
    request: &BothZones,
    settings: &Settings,
) -> Result<FinalizeOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let (domain, source_id, target_id) = request.validated()?;
    let keep = parse_keep_in_source(&domain, &request.keep_in_source)?;
    let scope = CarryScope {
        domain: &domain,
        keep_in_source: &keep,
        health_checks: request.health_checks,
        source_id: &source_id,
        target_id: &target_id,
    };
    let (carry, carried_until) = last_carry(source, target, memory, &scope, settings).await?;
    let clock = memory.1;
    let ttl = request.ns_ttl.after;
    set_apex_ns_ttl(target, clock, &target_id, &domain, ttl, settings).await?;
    set_apex_ns_ttl(source, clock, &source_id, &domain, ttl, settings).await?;
    let mut parent_ns_ttl = None;
    if let Some(parent) = parent.filter(|_| request.registrar.lower_ns_ttl) {
        parent
            .set_delegation_ttl_in_sync(clock, &domain, ttl, settings)
            .await?;
        parent_ns_ttl = Some(ttl);
    }
    let target_zone = read_zone(target, &target_id).await?;
    // healthChecks "keep": the old account's health checks the new zone's records name.
    let mut kept_checks = std::collections::BTreeSet::new();
    if request.health_checks == zonehop_core::plan::HealthCheckPolicy::Keep {
        kept_checks.extend(target_zone.iter().filter_map(|r| r.health_check_id.clone()));
    }
    let source_zone = read_zone(source, &source_id).await?;
    let removed = usize::from(
        remove_canary(target, clock, (&target_id, &target_zone), &domain, settings).await?,
    ) + usize::from(
        remove_canary(source, clock, (&source_id, &source_zone), &domain, settings).await?,
    );
    Ok(FinalizeOutput {
        ns_ttl: ttl,
        parent_ns_ttl,
        canaries_removed: removed,
        carry,
        carried_until,
        decommission_checklist: vec![
            match carried_until {
                Some(at) => format!("From {} (epoch {at}) an edit in the old zone {source_id} is no longer carried to {target_id}: write only to {target_id} from then on.", iso_utc(at)),
                None => format!("No ledger baseline was found, so no last carry was made: compare {source_id} with {target_id} and write only to {target_id}."),
            },
            format!("Keep the old zone {source_id} unchanged for at least 48 hours more; zonehop never deletes it."),
            format!("Publish any record change in both zones ({source_id} and {target_id}) until the old zone is deleted."),
            if kept_checks.is_empty() {
                "Re-create the health checks and traffic policies of the old account in the new one if any records used them.".to_owned()
            } else {
                format!("Records of {target_id} name health checks of the old account ({}): do not delete them there while they do; to retire that account, create health checks in the new one and point the records at them first.", kept_checks.into_iter().collect::<Vec<_>>().join(", "))
            },
            format!("If DNSSEC is wanted, enable signing on {target_id} and add its DS at the registrar only after the old zone is retired."),
            format!("Then delete zone {source_id} (a hosted zone costs $0.50 a month); subdomains kept behind keep their own zones."),
        ],
    })
}

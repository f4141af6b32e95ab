//! lower-ns-ttl (DESIGN step 6): the apex NS TTL of both zones to `nsTtl.during`, so that
//! after the swap resolvers re-ask within minutes; the state machine then waits out the old
//! TTL before the swap.

use crate::ports::hosted_zones::set_apex_ns_ttl;
use crate::ports::parent_zone::{ParentZone, PARENT_NS_TTL};
use serde::{Deserialize, Serialize};
use zonehop_core::request::BothZones;

use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::hosted_zones::HostedZones;
use crate::ports::ledger::Ledger;
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;

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
    /// With a `route53zone` parent whose TTL is lowered too, the larger of the two.
    pub wait_seconds: i64,
    /// The parent's NS TTL for the domain before it was lowered (`route53zone` with
    /// `lowerNsTtl` only; null otherwise).
    #[serde(default)]
    pub previous_parent_ttl: Option<i64>,
}

/// Step 6: both apex NS TTLs to `nsTtl.during`; and the parent's NS TTL for the domain
/// too, where the parent is a hosted zone (`parent`) and `registrar.lowerNsTtl` asks.
pub async fn lower_ns_ttl<S: HostedZones, T: HostedZones, P: HostedZones, L: Ledger, C: Clock>(
    source: &S,
    target: &T,
    parent: Option<&ParentZone<P>>,
    ledger: &L,
    clock: &C,
    request: &BothZones,
    settings: &Settings,
) -> Result<LowerNsTtlOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let (domain, source_id, target_id) = request.validated()?;
    let ttl = request.ns_ttl.during;
    let previous_source_ttl =
        set_apex_ns_ttl(source, clock, &source_id, &domain, ttl, settings).await?;
    let previous_target_ttl =
        set_apex_ns_ttl(target, clock, &target_id, &domain, ttl, settings).await?;
    let now = clock.now_epoch();
    // The ledger remembers the TTL resolvers may still hold, and since when: an execution
    // after a failure finds the TTL already lowered, yet must wait out the original one.
    let owed = remember_lowered(ledger, &domain, "nsTtl", previous_source_ttl, ttl, now).await?;
    let mut wait_seconds = previous_source_ttl.max(owed);
    let mut previous_parent_ttl = None;
    if let Some(parent) = parent.filter(|_| request.registrar.lower_ns_ttl) {
        let previous = parent
            .set_delegation_ttl_in_sync(clock, &domain, ttl, settings)
            .await?;
        let owed = remember_lowered(ledger, &domain, PARENT_NS_TTL, previous, ttl, now).await?;
        wait_seconds = wait_seconds.max(previous).max(owed);
        previous_parent_ttl = Some(previous);
    }
    Ok(LowerNsTtlOutput {
        previous_source_ttl,
        previous_target_ttl,
        wait_seconds,
        previous_parent_ttl,
    })
}

/// Remembers in the ledger item `item` the TTL resolvers may still hold (`previous`, when
/// it was above `lowered`) and since when; returns what is still owed of one remembered
/// earlier: an execution after a failure finds the TTL already lowered, yet must wait out
/// the original one.
async fn remember_lowered<L: Ledger>(
    ledger: &L,
    domain: &zonehop_core::name::Name,
    item: &str,
    previous: i64,
    lowered: i64,
    now: i64,
) -> Result<i64, Error> {
    let remembered = ledger.read(domain, item).await?;
    let owed = remembered
        .as_ref()
        .and_then(|doc| Some(doc["original"].as_i64()? - (now - doc["loweredAt"].as_i64()?)))
        .unwrap_or(0);
    if previous > lowered {
        let doc = serde_json::json!({ "original": previous, "loweredAt": now });
        ledger.write(domain, item, &doc).await?;
    }
    Ok(owed)
}

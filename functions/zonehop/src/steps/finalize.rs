//! finalize (DESIGN step 10): restore the apex NS TTL, remove the canaries, hand over the
//! decommission checklist. The old zone is never deleted by zonehop.
use crate::error::Error;
use crate::ports::hosted_zones::change_and_wait;
use crate::ports::hosted_zones::read_zone;
use crate::ports::hosted_zones::set_apex_ns_ttl;
use crate::ports::hosted_zones::HostedZones;
use crate::ports::parent_zone::ParentZone;
use crate::ports::retry::{RetryStats, Retrying};
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use zonehop_core::canary::CANARY_LABEL;
use zonehop_core::change::Action;
use zonehop_core::change::Change;
use zonehop_core::name::Name;
use zonehop_core::request::BothZones;
use zonehop_core::zone::RrType;

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
    /// What the operator does next; zonehop never deletes the old zone.
    pub decommission_checklist: Vec<String>,
}

async fn remove_canary<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    domain: &Name,
    settings: &Settings,
) -> Result<bool, Error> {
    let canary = domain
        .prepend(CANARY_LABEL)
        .map_err(|e| Error::InvalidRequest(format!("canary name: {e}")))?;
    let zone = read_zone(r53, zone_id).await?;
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
        zone_id,
        &change,
        "zonehop: remove the canary",
        settings.in_sync_timeout,
    )
    .await?;
    Ok(true)
}

/// Step 10: apex NS TTLs to `nsTtl.after` (and the parent's delegation TTL, where
/// lower-ns-ttl lowered it in a `route53zone` parent), canaries removed, the checklist.
pub async fn finalize<S: HostedZones, T: HostedZones, P: HostedZones>(
    source: &S,
    target: &T,
    parent: Option<&ParentZone<P>>,
    request: &BothZones,
    settings: &Settings,
) -> Result<FinalizeOutput, Error> {
    let stats = RetryStats::default();
    let source = &Retrying::new(source, settings.retry, &stats);
    let target = &Retrying::new(target, settings.retry, &stats);
    let (domain, source_id, target_id) = request.validated()?;
    let ttl = request.ns_ttl.after;
    set_apex_ns_ttl(target, &target_id, &domain, ttl, settings).await?;
    set_apex_ns_ttl(source, &source_id, &domain, ttl, settings).await?;
    let mut parent_ns_ttl = None;
    if let Some(parent) = parent.filter(|_| request.registrar.lower_ns_ttl) {
        parent
            .set_delegation_ttl_in_sync(&domain, ttl, settings)
            .await?;
        parent_ns_ttl = Some(ttl);
    }
    let removed = usize::from(remove_canary(target, &target_id, &domain, settings).await?)
        + usize::from(remove_canary(source, &source_id, &domain, settings).await?);
    Ok(FinalizeOutput {
        ns_ttl: ttl,
        parent_ns_ttl,
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

//! The narrow port to Route 53's hosted-zone API, and the domain functions built on it.
//!
//! The core never sees the SDK: [`crate::adapters::route53::Route53`] implements [`HostedZones`]
//! over HTTP, and tests may implement it in memory. Every call here is one API request, so
//! retries (in [`crate::ports::retry`]) and call counts wrap individual requests.

use crate::settings::Settings;
use std::future::Future;
use std::time::{Duration, Instant};
use zonehop_core::batch::Cost;
use zonehop_core::change::Action;
use zonehop_core::delegation::canonical_servers;

use serde::Serialize;

use crate::error::Error;

use zonehop_core::change::Change;
use zonehop_core::name::Name;
use zonehop_core::zone::{RecordSet, RrType, Zone};

/// What zonehop needs to know about a hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostedZone {
    /// The bare id (`Z123`, without `/hostedzone/`).
    pub id: String,
    pub name: Name,
    pub private: bool,
    pub caller_reference: String,
    /// Empty where the API call that produced this does not return them.
    pub name_servers: Vec<String>,
}

/// The public zone an earlier zonehop execution left, when it is the only public zone of
/// its name (`made_by_zonehop` tells zonehop's CallerReferences of that kind): a new
/// execution after a failure adopts it instead of failing with `ZoneAlreadyExists`. Any
/// other public zone of the name (one the user made) keeps the refusal.
pub fn left_by_an_earlier_execution(
    existing: &[HostedZone],
    made_by_zonehop: impl Fn(&str) -> bool,
) -> Option<&HostedZone> {
    let public: Vec<&HostedZone> = existing.iter().filter(|z| !z.private).collect();
    match public.as_slice() {
        [only] if made_by_zonehop(&only.caller_reference) => Some(only),
        _ => None,
    }
}

/// A CallerReference create-zone gives the target zones it creates (`zonehop-…`, not a
/// child zone's `zonehop-child-…`).
pub fn made_by_create_zone(reference: &str) -> bool {
    reference.starts_with("zonehop-") && !reference.starts_with("zonehop-child-")
}

/// Where a ListResourceRecordSets page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageStart {
    pub name: String,
    pub rtype: RrType,
    pub identifier: Option<String>,
}

/// One page of ListResourceRecordSets.
#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<RecordSet>,
    pub next: Option<PageStart>,
}

/// The Route 53 calls zonehop makes on hosted zones.
pub trait HostedZones: Send + Sync {
    /// GetHostedZone: the zone with its name servers.
    fn get_zone(&self, zone_id: &str) -> impl Future<Output = Result<HostedZone, Error>> + Send;

    /// ListHostedZonesByName, filtered to zones of exactly this name (no name servers).
    fn zones_named(
        &self,
        name: &Name,
    ) -> impl Future<Output = Result<Vec<HostedZone>, Error>> + Send;

    /// CreateHostedZone (public).
    fn create_zone(
        &self,
        name: &Name,
        caller_reference: &str,
        comment: &str,
    ) -> impl Future<Output = Result<HostedZone, Error>> + Send;

    /// One page of ListResourceRecordSets (at most 300 record sets).
    fn list_records_page(
        &self,
        zone_id: &str,
        start: Option<&PageStart>,
    ) -> impl Future<Output = Result<RecordPage, Error>> + Send;

    /// ChangeResourceRecordSets with one batch; returns the change id.
    fn change_records(
        &self,
        zone_id: &str,
        changes: &[Change],
        comment: &str,
    ) -> impl Future<Output = Result<String, Error>> + Send;

    /// GetChange: true once the change is INSYNC.
    fn change_in_sync(&self, change_id: &str) -> impl Future<Output = Result<bool, Error>> + Send;

    /// GetDNSSEC: true when the zone signs its answers.
    fn dnssec_signing(&self, zone_id: &str) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// Reads every record set of a zone, page by page, each page retried on its own.
pub async fn read_zone<R: HostedZones>(r53: &R, zone_id: &str) -> Result<Zone, Error> {
    let mut records = Vec::new();
    let mut start: Option<PageStart> = None;
    loop {
        let page = r53.list_records_page(zone_id, start.as_ref()).await?;
        records.extend(page.records);
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(Zone::new(records)),
        }
    }
}

/// One ChangeResourceRecordSets, then waits until it is INSYNC (up to `timeout`); returns
/// the change id. Every "write, then make sure every Route 53 server has it" goes here.
pub async fn change_and_wait<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    changes: &[Change],
    comment: &str,
    timeout: Duration,
) -> Result<String, Error> {
    let id = r53.change_records(zone_id, changes, comment).await?;
    wait_in_sync(r53, &id, timeout).await?;
    Ok(id)
}

/// Waits until a change is INSYNC, polling with a growing interval, up to `timeout`.
pub async fn wait_in_sync<R: HostedZones>(
    r53: &R,
    change_id: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut interval = Duration::from_millis(500);
    loop {
        if r53.change_in_sync(change_id).await? {
            return Ok(());
        }
        if started.elapsed() + interval > timeout {
            return Err(Error::ChangeNotInSync {
                change_id: change_id.to_owned(),
                waited_seconds: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_secs(10));
    }
}

/// Sets the zone's apex NS TTL (values kept); returns the previous TTL.
pub async fn set_apex_ns_ttl<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    domain: &Name,
    ttl: i64,
    settings: &Settings,
) -> Result<i64, Error> {
    let zone = read_zone(r53, zone_id).await?;
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
    change_and_wait(r53, zone_id, &change, &comment, settings.in_sync_timeout).await?;
    Ok(previous)
}

/// Points the zone's own apex NS at `servers` (keeping its TTL) unless it already does.
pub async fn point_apex_ns<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    domain: &Name,
    servers: &[String],
    settings: &Settings,
) -> Result<(Vec<String>, bool), Error> {
    let zone = read_zone(r53, zone_id).await?;
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
    change_and_wait(r53, zone_id, &change, &comment, settings.in_sync_timeout).await?;
    Ok((canonical_servers(&before), true))
}

/// A zone given by id must be the public zone of the domain.
pub fn check_is_public_zone_of(zone: &HostedZone, domain: &Name) -> Result<(), Error> {
    if zone.name != *domain {
        return Err(Error::ZoneNameMismatch {
            zone_id: zone.id.clone(),
            expected: domain.to_string(),
            actual: zone.name.to_string(),
        });
    }
    if zone.private {
        return Err(Error::PrivateZone {
            zone_id: zone.id.clone(),
        });
    }
    Ok(())
}

/// Sends the batches one after the other (one request in flight per zone: Route 53
/// answers PriorRequestNotComplete otherwise) and waits until the last one is INSYNC.
/// Route 53 applies a zone's changes in order, so the last INSYNC covers them all.
/// Returns the number of batches sent.
pub async fn apply_batches<T: HostedZones>(
    target: &T,
    zone_id: &str,
    domain: &Name,
    batches: &[Vec<zonehop_core::plan::Change>],
    settings: &Settings,
) -> Result<usize, Error> {
    let mut last_change: Option<String> = None;
    for (index, batch) in batches.iter().enumerate() {
        let cost = Cost::of_batch(batch);
        debug_assert!(cost.fits(settings.limits));
        let comment = format!(
            "zonehop sync of {domain}: batch {} of {}",
            index + 1,
            batches.len()
        );
        tracing::info!(
            batch = index + 1,
            changes = batch.len(),
            values = cost.values,
            chars = cost.chars,
            "sending change batch"
        );
        let id = target.change_records(zone_id, batch, &comment).await?;
        last_change = Some(id);
    }
    if let Some(id) = last_change {
        wait_in_sync(target, &id, settings.in_sync_timeout).await?;
    }
    Ok(batches.len())
}

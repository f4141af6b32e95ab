//! The narrow port to Route 53's hosted-zone API, and the domain functions built on it.
//!
//! The core never sees the SDK: [`crate::adapters::route53::Route53`] implements [`HostedZones`]
//! over HTTP, and tests may implement it in memory. Every call here is one API request, so
//! retries (in [`crate::ports::retry`]) and call counts wrap individual requests.

use crate::settings::Settings;
use std::future::Future;
use std::time::Duration;
use zonehop_core::batch::Cost;
use zonehop_core::change::Action;
use zonehop_core::delegation::canonical_servers;

use serde::Serialize;

use crate::error::Error;
use crate::ports::clock::Clock;

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
pub async fn change_and_wait<R: HostedZones, C: Clock>(
    r53: &R,
    clock: &C,
    zone_id: &str,
    changes: &[Change],
    comment: &str,
    timeout: Duration,
) -> Result<String, Error> {
    let id = r53.change_records(zone_id, changes, comment).await?;
    wait_in_sync(r53, clock, &id, timeout).await?;
    Ok(id)
}

/// Waits until a change is INSYNC, polling with a growing interval (on `clock`), up to
/// `timeout`.
pub async fn wait_in_sync<R: HostedZones, C: Clock>(
    r53: &R,
    clock: &C,
    change_id: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let started = clock.monotonic();
    let mut interval = Duration::from_millis(500);
    loop {
        if r53.change_in_sync(change_id).await? {
            return Ok(());
        }
        let waited = clock.monotonic().saturating_sub(started);
        if waited + interval > timeout {
            return Err(Error::ChangeNotInSync {
                change_id: change_id.to_owned(),
                waited_seconds: waited.as_secs(),
            });
        }
        clock.sleep(interval).await;
        interval = (interval * 2).min(Duration::from_secs(10));
    }
}

/// Sets the zone's apex NS TTL (values kept); returns the previous TTL.
pub async fn set_apex_ns_ttl<R: HostedZones, C: Clock>(
    r53: &R,
    clock: &C,
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
    change_and_wait(
        r53,
        clock,
        zone_id,
        &change,
        &comment,
        settings.in_sync_timeout,
    )
    .await?;
    Ok(previous)
}

/// Points the zone's own apex NS at `servers` (keeping its TTL) unless it already does.
pub async fn point_apex_ns<R: HostedZones, C: Clock>(
    r53: &R,
    clock: &C,
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
    change_and_wait(
        r53,
        clock,
        zone_id,
        &change,
        &comment,
        settings.in_sync_timeout,
    )
    .await?;
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
pub async fn apply_batches<T: HostedZones, C: Clock>(
    target: &T,
    clock: &C,
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
        wait_in_sync(target, clock, &id, settings.in_sync_timeout).await?;
    }
    Ok(batches.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{ManualClock, MemoryZones, ZoneOp};

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// A zone with one change sent; GetChange answers PENDING `pending` times before INSYNC.
    async fn a_change_pending(pending: u32) -> (MemoryZones, String) {
        let zones = MemoryZones::new();
        let domain = Name::parse("example.com").expect("name");
        let zone = zones.add_zone(&domain);
        zones.set_polls_until_in_sync(pending);
        let record = RecordSet::simple(
            Name::parse("www.example.com").expect("name"),
            RrType::A,
            60,
            &["192.0.2.1"],
        );
        let change = Change {
            action: Action::Create,
            record,
        };
        let id = zones
            .change_records(&zone.id, &[change], "test")
            .await
            .expect("accepted");
        (zones, id)
    }

    #[tokio::test]
    async fn a_change_pending_three_polls_is_awaited_on_the_clock_until_insync() {
        // GIVEN a change GetChange reports PENDING three times, then INSYNC
        let (zones, id) = a_change_pending(3).await;
        let clock = ManualClock::at(1_000);
        // WHEN the wait polls it on the twin's clock, with ten minutes to spare
        wait_in_sync(&zones, &clock, &id, Duration::from_secs(600))
            .await
            .expect("INSYNC");
        // THEN four polls, with the growing pauses between them, and 3.5 s gone by
        assert_eq!(zones.count(ZoneOp::GetChange), 4);
        assert_eq!(clock.sleeps(), [ms(500), ms(1_000), ms(2_000)]);
        assert_eq!(clock.monotonic(), Duration::from_secs(1_000) + ms(3_500));
    }

    #[tokio::test]
    async fn a_change_never_insync_is_given_up_at_the_deadline_as_change_not_in_sync() {
        // GIVEN a change that stays PENDING
        let (zones, id) = a_change_pending(u32::MAX).await;
        let clock = ManualClock::at(1_000);
        // WHEN the wait polls it with 30 s allowed
        let err = wait_in_sync(&zones, &clock, &id, Duration::from_secs(30))
            .await
            .expect_err("gave up");
        // THEN it stops before a pause would carry it past 30 s (25.5 s + 10 s), and says
        // how long it waited, under the name the state machine retries on
        assert_eq!(err.error_type(), "ChangeNotInSync");
        assert!(
            matches!(&err, Error::ChangeNotInSync { change_id, waited_seconds: 25 } if *change_id == id),
            "{err:?}"
        );
        let pauses = [500, 1_000, 2_000, 4_000, 8_000, 10_000].map(ms);
        assert_eq!(clock.sleeps(), pauses);
        assert_eq!(
            zones.count(ZoneOp::GetChange),
            7,
            "one poll after each pause"
        );
        assert_eq!(clock.monotonic(), Duration::from_secs(1_000) + ms(25_500));
    }
}

//! The narrow port to Route 53's hosted-zone API, and the domain functions built on it.
//!
//! The core never sees the SDK: [`crate::route53::Route53`] implements [`HostedZones`]
//! over HTTP, and tests may implement it in memory. Every call here is one API request, so
//! retries (in [`crate::retry`]) and call counts wrap individual requests.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::Error;
use crate::name::Name;
use crate::plan::Change;
use crate::retry::{with_retry, RetryPolicy, RetryStats};
use crate::zone::{RecordSet, RrType, Zone};

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
pub async fn read_zone<R: HostedZones>(
    r53: &R,
    zone_id: &str,
    retry: &RetryPolicy,
    stats: &RetryStats,
) -> Result<Zone, Error> {
    let mut records = Vec::new();
    let mut start: Option<PageStart> = None;
    loop {
        let page = with_retry(retry, stats, || {
            r53.list_records_page(zone_id, start.as_ref())
        })
        .await?;
        records.extend(page.records);
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(Zone::new(records)),
        }
    }
}

/// Waits until a change is INSYNC, polling with a growing interval, up to `timeout`.
pub async fn wait_in_sync<R: HostedZones>(
    r53: &R,
    change_id: &str,
    timeout: Duration,
    retry: &RetryPolicy,
    stats: &RetryStats,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut interval = Duration::from_millis(500);
    loop {
        if with_retry(retry, stats, || r53.change_in_sync(change_id)).await? {
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

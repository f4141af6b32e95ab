//! A [`HostedZones`] wrapper that counts calls and checks every change batch against
//! Route 53's limits (moto enforces the 1,000 values but not the 32,000 characters).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use zonehop::core::batch::{BatchLimits, Cost};
use zonehop::core::change::Change;
use zonehop::ports::hosted_zones::{HostedZone, HostedZones, PageStart, RecordPage};
use zonehop::{Error, Name};

/// Counts what went through it.
#[derive(Debug, Default)]
pub struct Counting<R> {
    inner: R,
    pub change_calls: AtomicUsize,
    pub list_calls: AtomicUsize,
    pub other_calls: AtomicUsize,
    pub failed_calls: AtomicUsize,
    /// The cost of every change batch sent, in order.
    pub batches: Mutex<Vec<Cost>>,
}

impl<R> Counting<R> {
    pub fn new(inner: R) -> Counting<R> {
        Counting {
            inner,
            change_calls: AtomicUsize::new(0),
            list_calls: AtomicUsize::new(0),
            other_calls: AtomicUsize::new(0),
            failed_calls: AtomicUsize::new(0),
            batches: Mutex::new(Vec::new()),
        }
    }

    pub fn changes(&self) -> usize {
        self.change_calls.load(Ordering::Relaxed)
    }

    pub fn lists(&self) -> usize {
        self.list_calls.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> usize {
        self.failed_calls.load(Ordering::Relaxed)
    }

    /// Batches that Route 53 itself would have refused.
    pub fn illegal_batches(&self, limits: BatchLimits) -> usize {
        self.batches
            .lock()
            .map(|b| b.iter().filter(|c| !c.fits(limits)).count())
            .unwrap_or(0)
    }

    fn count<T>(&self, counter: &AtomicUsize, result: Result<T, Error>) -> Result<T, Error> {
        counter.fetch_add(1, Ordering::Relaxed);
        if result.is_err() {
            self.failed_calls.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

impl<R: HostedZones> HostedZones for Counting<R> {
    async fn get_zone(&self, zone_id: &str) -> Result<HostedZone, Error> {
        let result = self.inner.get_zone(zone_id).await;
        self.count(&self.other_calls, result)
    }

    async fn zones_named(&self, name: &Name) -> Result<Vec<HostedZone>, Error> {
        let result = self.inner.zones_named(name).await;
        self.count(&self.other_calls, result)
    }

    async fn create_zone(
        &self,
        name: &Name,
        reference: &str,
        comment: &str,
    ) -> Result<HostedZone, Error> {
        let result = self.inner.create_zone(name, reference, comment).await;
        self.count(&self.other_calls, result)
    }

    async fn list_records_page(
        &self,
        zone_id: &str,
        start: Option<&PageStart>,
    ) -> Result<RecordPage, Error> {
        let result = self.inner.list_records_page(zone_id, start).await;
        self.count(&self.list_calls, result)
    }

    async fn change_records(
        &self,
        zone_id: &str,
        changes: &[Change],
        comment: &str,
    ) -> Result<String, Error> {
        if let Ok(mut batches) = self.batches.lock() {
            batches.push(Cost::of_batch(changes));
        }
        let result = self.inner.change_records(zone_id, changes, comment).await;
        self.count(&self.change_calls, result)
    }

    async fn dnssec_signing(&self, zone_id: &str) -> Result<bool, Error> {
        let result = self.inner.dnssec_signing(zone_id).await;
        self.count(&self.other_calls, result)
    }

    async fn health_check_exists(&self, id: &str) -> Result<bool, Error> {
        let result = self.inner.health_check_exists(id).await;
        self.count(&self.other_calls, result)
    }

    async fn change_in_sync(&self, change_id: &str) -> Result<bool, Error> {
        let result = self.inner.change_in_sync(change_id).await;
        self.count(&self.other_calls, result)
    }
}

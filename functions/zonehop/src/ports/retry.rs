//! Capped exponential backoff with full jitter for transient Route 53 errors.
//!
//! Route 53 answers `Throttling` past 10 requests/s per account and
//! `PriorRequestNotComplete` while a previous change to the zone is still processing. Both
//! pass if the caller waits; "full jitter" (a uniform wait between zero and the capped
//! exponential) keeps many workers from retrying in lockstep.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use zonehop_core::change::Change;
use zonehop_core::name::Name;

use crate::error::Error;
use crate::ports::executions::Executions;
use crate::ports::hosted_zones::{HostedZone, HostedZones, PageStart, RecordPage};
use crate::ports::registrar::Registrar;
pub use zonehop_core::backoff::RetryPolicy;

/// Counts of what the retry loop did, for reports and benchmarks.
#[derive(Debug, Default)]
pub struct RetryStats {
    /// Calls that failed with a transient error and were tried again.
    pub retried: AtomicU32,
}

impl RetryStats {
    pub fn retried(&self) -> u32 {
        self.retried.load(Ordering::Relaxed)
    }
}

/// Runs `call` until it succeeds, fails with a non-transient error, or runs out of attempts.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    stats: &RetryStats,
    mut call: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if error.is_transient() && attempt < policy.max_attempts => {
                tracing::warn!(attempt, error_type = error.error_type(), %error, "transient error, retrying");
                stats.retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(policy.delay(attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(with_attempts(error, attempt)),
        }
    }
}

fn with_attempts(error: Error, attempts: u32) -> Error {
    match error {
        Error::Throttled { operation, .. } => Error::Throttled {
            operation,
            attempts,
        },
        Error::PriorRequestNotComplete { operation, .. } => Error::PriorRequestNotComplete {
            operation,
            attempts,
        },
        other => other,
    }
}

/// A port with every call retried: the one place where zonehop retries Route 53, Route 53
/// Domains and Step Functions calls (the SDK's own retries are off). A step wraps each port
/// it is given once, and calls it as if it never failed transiently.
#[derive(Debug)]
pub struct Retrying<'a, P> {
    inner: &'a P,
    policy: RetryPolicy,
    stats: &'a RetryStats,
}

impl<'a, P> Retrying<'a, P> {
    pub fn new(inner: &'a P, policy: RetryPolicy, stats: &'a RetryStats) -> Self {
        Retrying {
            inner,
            policy,
            stats,
        }
    }
}

impl<P: HostedZones> HostedZones for Retrying<'_, P> {
    async fn get_zone(&self, zone_id: &str) -> Result<HostedZone, Error> {
        with_retry(&self.policy, self.stats, || self.inner.get_zone(zone_id)).await
    }

    async fn zones_named(&self, name: &Name) -> Result<Vec<HostedZone>, Error> {
        with_retry(&self.policy, self.stats, || self.inner.zones_named(name)).await
    }

    async fn create_zone(
        &self,
        name: &Name,
        caller_reference: &str,
        comment: &str,
    ) -> Result<HostedZone, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.create_zone(name, caller_reference, comment)
        })
        .await
    }

    async fn list_records_page(
        &self,
        zone_id: &str,
        start: Option<&PageStart>,
    ) -> Result<RecordPage, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.list_records_page(zone_id, start)
        })
        .await
    }

    async fn change_records(
        &self,
        zone_id: &str,
        changes: &[Change],
        comment: &str,
    ) -> Result<String, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.change_records(zone_id, changes, comment)
        })
        .await
    }

    async fn change_in_sync(&self, change_id: &str) -> Result<bool, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.change_in_sync(change_id)
        })
        .await
    }

    async fn dnssec_signing(&self, zone_id: &str) -> Result<bool, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.dnssec_signing(zone_id)
        })
        .await
    }

    async fn health_check_exists(&self, id: &str) -> Result<bool, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.health_check_exists(id)
        })
        .await
    }
}

impl<P: Registrar> Registrar for Retrying<'_, P> {
    async fn name_servers(&self, domain: &Name) -> Result<Vec<String>, Error> {
        with_retry(&self.policy, self.stats, || self.inner.name_servers(domain)).await
    }

    async fn update_name_servers(
        &self,
        domain: &Name,
        servers: &[String],
    ) -> Result<String, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.update_name_servers(domain, servers)
        })
        .await
    }

    async fn operation_status(&self, operation_id: &str) -> Result<String, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.operation_status(operation_id)
        })
        .await
    }
}

impl<P: Executions> Executions for Retrying<'_, P> {
    async fn is_running(&self, execution: &str) -> Result<bool, Error> {
        with_retry(&self.policy, self.stats, || {
            self.inner.is_running(execution)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn throttled() -> Error {
        Error::Throttled {
            operation: "ChangeResourceRecordSets".into(),
            attempts: 1,
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let stats = RetryStats::default();
        let mut calls = 0;
        let result = with_retry(&fast(), &stats, || {
            calls += 1;
            let outcome = if calls < 3 {
                Err(throttled())
            } else {
                Ok(calls)
            };
            async move { outcome }
        })
        .await;
        assert_eq!(result.expect("succeeds on the third call"), 3);
        assert_eq!(stats.retried(), 2);
    }

    #[tokio::test]
    async fn giving_up_reports_the_attempts_made() {
        let stats = RetryStats::default();
        let result: Result<(), Error> =
            with_retry(&fast(), &stats, || async { Err(throttled()) }).await;
        match result {
            Err(Error::Throttled { attempts, .. }) => assert_eq!(attempts, 4),
            other => panic!("expected Throttled, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let stats = RetryStats::default();
        let mut calls = 0;
        let result: Result<(), Error> = with_retry(&fast(), &stats, || {
            calls += 1;
            async { Err(Error::InvalidRequest("bad".into())) }
        })
        .await;
        assert!(matches!(result, Err(Error::InvalidRequest(_))));
        assert_eq!(calls, 1);
        assert_eq!(stats.retried(), 0);
    }
}

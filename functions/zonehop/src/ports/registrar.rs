//! The registrar: the port to the domain's registration. Adapters: Route 53 Domains
//! (`adapters::route53domains`) and the in-memory twin (`adapters::memory`).

use crate::settings::Settings;
use std::future::Future;
use std::time::Duration;
use zonehop_core::delegation::canonical_servers;

use crate::error::Error;
use crate::ports::clock::Clock;
use crate::ports::ledger::Ledger;
use zonehop_core::name::Name;

/// The registration calls zonehop makes.
pub trait Registrar: Send + Sync {
    /// The name servers the registration points at now (canonical, with trailing dots).
    fn name_servers(
        &self,
        domain: &Name,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;

    /// Points the registration at `servers`; returns the operation to poll.
    fn update_name_servers(
        &self,
        domain: &Name,
        servers: &[String],
    ) -> impl Future<Output = Result<String, Error>> + Send;

    /// SUBMITTED, IN_PROGRESS, ERROR, SUCCESSFUL or FAILED.
    fn operation_status(
        &self,
        operation_id: &str,
    ) -> impl Future<Output = Result<String, Error>> + Send;
}

/// Points the registration at `servers` unless it already does; waits for the operation.
/// The operation's id is written to the ledger (item `registrar#<purpose>`) as soon as the
/// update is accepted: a re-run (a retry after a timeout, a new execution) polls that
/// operation while it is still running (SUBMITTED or IN_PROGRESS) and was sent for the same
/// servers, instead of sending a second update. Any other recorded operation (one that
/// failed, or one that succeeded and was undone since, as by a rollback) is never polled
/// again: the registration does not name `servers`, so a new update is sent. The polls
/// wait on `clock`, up to `settings.operation_timeout`.
pub async fn point_registration<G: Registrar, L: Ledger, C: Clock>(
    registrar: &G,
    ledger: &L,
    clock: &C,
    domain: &Name,
    servers: &[String],
    purpose: &str,
    settings: &Settings,
) -> Result<(Vec<String>, Option<String>), Error> {
    let before = registrar.name_servers(domain).await?;
    let wanted = canonical_servers(servers);
    if before == wanted {
        return Ok((before, None));
    }
    let item = format!("registrar#{purpose}");
    let recorded = ledger.read(domain, &item).await?.and_then(|doc| {
        let same = doc["servers"].as_array().is_some_and(|list| {
            let listed: Vec<String> = list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            canonical_servers(&listed) == wanted
        });
        let failed = doc["failed"].as_bool().unwrap_or(false);
        doc["operationId"]
            .as_str()
            .filter(|_| same && !failed)
            .map(str::to_owned)
    });
    let running = match recorded {
        Some(operation) => {
            let status = registrar.operation_status(&operation).await?;
            if matches!(status.as_str(), "SUBMITTED" | "IN_PROGRESS") {
                tracing::info!(%operation, "polling the registrar operation an earlier run started");
                Some(operation)
            } else if status == "SUCCESSFUL" && registrar.name_servers(domain).await? == wanted {
                // It completed since the registration was read above.
                return Ok((before, Some(operation)));
            } else {
                tracing::info!(%operation, %status, "an earlier run's registrar operation is over and the registration does not name the servers: sending a new update");
                None
            }
        }
        None => None,
    };
    let operation = match running {
        Some(operation) => operation,
        None => {
            let operation = registrar.update_name_servers(domain, servers).await?;
            ledger
                .write(
                    domain,
                    &item,
                    &serde_json::json!({ "operationId": operation, "servers": wanted }),
                )
                .await?;
            operation
        }
    };
    let started = clock.monotonic();
    let mut pause = Duration::from_millis(500);
    loop {
        let status = registrar.operation_status(&operation).await?;
        let waited = clock.monotonic().saturating_sub(started);
        match status.as_str() {
            "SUCCESSFUL" => return Ok((before, Some(operation))),
            "ERROR" | "FAILED" => {
                // Reported once: a later run (the rollback, a new execution once the cause
                // is fixed) may send a new update.
                let doc = serde_json::json!({ "operationId": operation, "servers": wanted, "failed": true });
                ledger.write(domain, &item, &doc).await?;
                return Err(Error::RegistrarOperationFailed {
                    operation_id: operation,
                    status,
                });
            }
            _ if waited + pause > settings.operation_timeout => {
                return Err(Error::RegistrarOperationPending {
                    operation_id: operation,
                    status,
                    waited_seconds: waited.as_secs(),
                })
            }
            _ => {
                clock.sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(15));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{ManualClock, MemoryLedger, MemoryRegistrar, RegistrarOp};
    use RegistrarOp::{GetDomainDetail, GetOperationDetail, UpdateDomainNameservers};

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn servers(names: &[&str]) -> Vec<String> {
        names.iter().map(|&s| s.to_owned()).collect()
    }

    /// example.com registered with the old servers; a clock; ten minutes per operation.
    struct Registration {
        registrar: MemoryRegistrar,
        ledger: MemoryLedger,
        clock: ManualClock,
        domain: Name,
        old: Vec<String>,
        new: Vec<String>,
        settings: Settings,
    }

    impl Registration {
        fn new() -> Registration {
            let domain = Name::parse("example.com").expect("name");
            let old = servers(&["ns1.old.test.", "ns2.old.test."]);
            let registrar = MemoryRegistrar::new();
            registrar.register(&domain, &old);
            Registration {
                registrar,
                ledger: MemoryLedger::new(),
                clock: ManualClock::at(1_750_000_000),
                domain,
                old,
                new: servers(&["ns1.new.test.", "ns2.new.test."]),
                settings: Settings {
                    operation_timeout: Duration::from_secs(600),
                    ..Settings::default()
                },
            }
        }

        async fn point(
            &self,
            servers: &[String],
            purpose: &str,
        ) -> Result<(Vec<String>, Option<String>), Error> {
            point_registration(
                &self.registrar,
                &self.ledger,
                &self.clock,
                &self.domain,
                servers,
                purpose,
                &self.settings,
            )
            .await
        }

        /// The time gone by on the clock since the registration was made.
        fn elapsed(&self) -> Duration {
            self.clock.monotonic() - Duration::from_secs(1_750_000_000)
        }
    }

    #[tokio::test]
    async fn a_slow_registrar_is_polled_on_the_clock_until_its_operation_succeeds() {
        // GIVEN a registrar whose operation is SUBMITTED, then IN_PROGRESS four polls
        let r = Registration::new();
        r.registrar.set_polls_until_done(5);
        // WHEN the registration is pointed at the new servers
        let (before, operation) = r.point(&r.new, "swap").await.expect("pointed");
        // THEN six polls, 15.5 s of growing pauses on the clock, and the new servers
        assert_eq!(before, r.old);
        assert_eq!(operation.as_deref(), Some("op-00000001"));
        assert_eq!(r.registrar.count(GetOperationDetail), 6);
        let pauses = [500, 1_000, 2_000, 4_000, 8_000].map(ms);
        assert_eq!(r.clock.sleeps(), pauses);
        assert_eq!(r.elapsed(), ms(15_500));
        assert_eq!(r.registrar.servers_of(&r.domain), Some(r.new.clone()));
    }

    #[tokio::test]
    async fn a_registrar_still_running_at_the_deadline_is_pending_and_the_retry_polls_the_same_operation(
    ) {
        // GIVEN a registrar that takes longer than the 30 s allowed
        let mut r = Registration::new();
        r.settings.operation_timeout = Duration::from_secs(30);
        r.registrar.set_polls_until_done(u32::MAX);
        // WHEN the registration is pointed at the new servers
        let err = r.point(&r.new, "swap").await.expect_err("pending");
        // THEN it gives up before a pause would carry it past 30 s (15.5 s + 15 s), with
        // the retryable error naming the operation and how long it waited
        assert_eq!(err.error_type(), "RegistrarOperationPending");
        assert!(err.is_transient());
        assert!(
            matches!(&err, Error::RegistrarOperationPending { operation_id, status, waited_seconds: 15 }
                if operation_id == "op-00000001" && status == "IN_PROGRESS"),
            "{err:?}"
        );
        assert_eq!(r.elapsed(), ms(15_500));
        // WHEN the operation completes and the step is retried
        r.registrar.set_polls_until_done(0);
        r.registrar.clear_calls();
        let (_, operation) = r.point(&r.new, "swap").await.expect("done");
        // THEN the retry polls the operation it started (SUCCESSFUL, and the registration
        // read again names the new servers), with no second update
        assert_eq!(operation.as_deref(), Some("op-00000001"));
        assert_eq!(
            r.registrar.ops(),
            [GetDomainDetail, GetOperationDetail, GetDomainDetail]
        );
        assert_eq!(r.registrar.servers_of(&r.domain), Some(r.new.clone()));
    }

    #[tokio::test]
    async fn a_failed_operation_is_named_and_the_rerun_sends_a_new_update_instead_of_polling_it() {
        // GIVEN a registrar whose next operation runs two polls, then FAILS
        let r = Registration::new();
        r.registrar.set_polls_until_done(2);
        r.registrar.fail_next_operations(1);
        // WHEN the registration is pointed at the new servers
        let err = r.point(&r.new, "swap").await.expect_err("failed");
        // THEN the failure is named, after SUBMITTED, IN_PROGRESS and FAILED on the clock
        assert_eq!(err.error_type(), "RegistrarOperationFailed");
        assert!(
            matches!(&err, Error::RegistrarOperationFailed { operation_id, status }
                if operation_id == "op-00000001" && status == "FAILED"),
            "{err:?}"
        );
        assert_eq!(r.clock.sleeps(), [ms(500), ms(1_000)]);
        assert_eq!(r.registrar.servers_of(&r.domain), Some(r.old.clone()));
        // WHEN the same request runs again an hour later (the cause fixed)
        r.clock.advance(3_600);
        r.registrar.clear_calls();
        let (_, operation) = r.point(&r.new, "swap").await.expect("a new update");
        // THEN it sends a new update at once (the failed operation is not polled) and the
        // registration ends on the new servers
        assert_eq!(operation.as_deref(), Some("op-00000002"));
        assert_eq!(
            r.registrar.ops(),
            [
                GetDomainDetail,
                UpdateDomainNameservers,
                GetOperationDetail,
                GetOperationDetail,
                GetOperationDetail,
            ]
        );
        assert_eq!(r.registrar.servers_of(&r.domain), Some(r.new.clone()));
    }

    #[tokio::test]
    async fn a_rerun_after_a_rollback_sends_a_new_update_and_ends_on_the_new_servers() {
        // GIVEN the registration pointed at the new servers, then rolled back to the old
        let r = Registration::new();
        r.registrar.set_polls_until_done(1);
        r.point(&r.new, "swap").await.expect("swapped");
        r.point(&r.old, "rollback").await.expect("rolled back");
        assert_eq!(r.registrar.servers_of(&r.domain), Some(r.old.clone()));
        // WHEN a new execution points it at the new servers again, a day later
        r.clock.advance(86_400);
        r.registrar.clear_calls();
        let (before, operation) = r.point(&r.new, "swap").await.expect("swapped again");
        // THEN the swap's recorded operation, SUCCESSFUL but undone since, is not taken for
        // done: a third update is sent, and the registration ends on the new servers
        assert_eq!(before, r.old);
        assert_eq!(operation.as_deref(), Some("op-00000003"));
        assert_eq!(
            r.registrar.ops(),
            [
                GetDomainDetail,
                GetOperationDetail,
                GetDomainDetail,
                UpdateDomainNameservers,
                GetOperationDetail,
                GetOperationDetail,
            ]
        );
        assert_eq!(r.registrar.writes(), 1);
        assert_eq!(r.registrar.servers_of(&r.domain), Some(r.new.clone()));
        assert_eq!(r.clock.sleeps(), [ms(500); 3], "one pause per operation");
    }
}

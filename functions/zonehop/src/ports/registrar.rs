//! The registrar: the port to the domain's registration. Adapters: Route 53 Domains
//! (`adapters::route53domains`) and the in-memory twin (`adapters::memory`).

use crate::settings::Settings;
use std::future::Future;
use std::time::Duration;
use std::time::Instant;
use zonehop_core::delegation::canonical_servers;

use crate::error::Error;
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
/// again: the registration does not name `servers`, so a new update is sent.
pub async fn point_registration<G: Registrar, L: Ledger>(
    registrar: &G,
    ledger: &L,
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
    let started = Instant::now();
    let mut pause = Duration::from_millis(500);
    loop {
        let status = registrar.operation_status(&operation).await?;
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
            _ if started.elapsed() + pause > settings.operation_timeout => {
                return Err(Error::RegistrarOperationPending {
                    operation_id: operation,
                    status,
                    waited_seconds: started.elapsed().as_secs(),
                })
            }
            _ => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(15));
            }
        }
    }
}

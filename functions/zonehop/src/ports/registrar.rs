//! The registrar: the port to the domain's registration. Adapters: Route 53 Domains
//! (`adapters::route53domains`) and the in-memory twin (`adapters::memory`).

use crate::settings::Settings;
use std::future::Future;
use std::time::Duration;
use std::time::Instant;
use zonehop_core::delegation::canonical_servers;

use crate::error::Error;
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
pub async fn point_registration<G: Registrar>(
    registrar: &G,
    domain: &Name,
    servers: &[String],
    settings: &Settings,
) -> Result<(Vec<String>, Option<String>), Error> {
    let before = registrar.name_servers(domain).await?;
    if before == canonical_servers(servers) {
        return Ok((before, None));
    }
    let operation = registrar.update_name_servers(domain, servers).await?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(500);
    loop {
        let status = registrar.operation_status(&operation).await?;
        match status.as_str() {
            "SUCCESSFUL" => return Ok((before, Some(operation))),
            "ERROR" | "FAILED" => {
                return Err(Error::RegistrarOperationFailed {
                    operation_id: operation,
                    status,
                })
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

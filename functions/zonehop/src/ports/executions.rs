//! Which executions are running: the port preflight asks before it takes the domain's
//! lock. Adapter: Step Functions (`adapters::stepfunctions`).

use std::future::Future;

use crate::error::Error;

/// Asks whether an execution still runs.
pub trait Executions: Send + Sync {
    /// True when `execution` (an execution ARN) is RUNNING. An execution the service does
    /// not know is not running.
    fn is_running(&self, execution: &str) -> impl Future<Output = Result<bool, Error>> + Send;
}

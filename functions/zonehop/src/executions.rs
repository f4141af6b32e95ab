//! Which executions are running: the port preflight asks before it takes the domain's
//! lock, and its Step Functions adapter.

use std::future::Future;

use crate::error::Error;
use crate::route53::classify;

/// Asks whether an execution still runs.
pub trait Executions: Send + Sync {
    /// True when `execution` (an execution ARN) is RUNNING. An execution the service does
    /// not know is not running.
    fn is_running(&self, execution: &str) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// Step Functions' DescribeExecution.
#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
}

impl StepFunctions {
    pub fn new(config: &aws_config::SdkConfig) -> StepFunctions {
        StepFunctions {
            client: aws_sdk_sfn::Client::new(config),
        }
    }
}

impl Executions for StepFunctions {
    async fn is_running(&self, execution: &str) -> Result<bool, Error> {
        if !execution.starts_with("arn:") {
            // Not an execution of a state machine (a direct invocation's label).
            return Ok(false);
        }
        match self
            .client
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
        {
            Ok(out) => Ok(*out.status() == aws_sdk_sfn::types::ExecutionStatus::Running),
            Err(e) => match classify("DescribeExecution", e) {
                Error::Aws { code, .. } if code == "ExecutionDoesNotExist" => Ok(false),
                other => Err(other),
            },
        }
    }
}

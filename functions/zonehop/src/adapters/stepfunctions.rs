//! The executions port on Step Functions' DescribeExecution.

use crate::adapters::route53::classify;
use crate::error::Error;
use crate::ports::executions::Executions;

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

//! The Step Functions calls the operator tool makes, through aws-sdk-sfn: in AWS, or against
//! the emulator (moto) when the SDK's endpoint points there (`AWS_ENDPOINT_URL`).

use aws_config::SdkConfig;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;

use crate::history::{execution_input, HistoryEvent};
use crate::OperatorError;

/// A Step Functions client.
#[derive(Debug, Clone)]
pub struct Sfn {
    client: aws_sdk_sfn::Client,
}

/// An SDK error (Step Functions or EventBridge) as the one line a person reads: what failed
/// and what to do, never the error's Debug or its whole source chain.
pub fn api<E>(operation: &str, error: aws_sdk_sfn::error::SdkError<E>) -> OperatorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let chain = DisplayErrorContext(&error).to_string();
    let code = error.code().map(str::to_owned);
    let message = one_line(operation, code.as_deref(), error.message(), &chain);
    OperatorError::Aws {
        operation: operation.to_owned(),
        code,
        message,
    }
}

/// What to say about an AWS error: the cases people meet first (no credentials, an endpoint
/// out of reach, access denied, no such state machine) with what to do, else the service's
/// own message, else the first line of the error's chain, at most 200 characters.
pub fn one_line(operation: &str, code: Option<&str>, message: Option<&str>, chain: &str) -> String {
    let lower = chain.to_lowercase();
    if code.is_none() && lower.contains("credentials") {
        return "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run where a role is attached".to_owned();
    }
    match code {
        Some("AccessDenied" | "AccessDeniedException") => {
            return format!("access denied ({}): the identity running zonehop needs {} on this resource; the stack's RequesterArns parameter lists who may start and read migrations", message.unwrap_or("no detail"), action_of(operation));
        }
        Some("StateMachineDoesNotExist") => {
            return format!("no such state machine ({}): check --state-machine or ZONEHOP_STATE_MACHINE_ARN, and AWS_REGION (the stack's MigrationStateMachineArn output)", message.unwrap_or("no detail"));
        }
        Some("UnrecognizedClientException" | "InvalidClientTokenId" | "ExpiredTokenException") => {
            return format!(
                "the AWS credentials were refused ({}): refresh them (aws sso login, or new keys)",
                message.unwrap_or("no detail")
            );
        }
        _ => {}
    }
    if code.is_none()
        && (lower.contains("dispatch failure")
            || lower.contains("timeout")
            || lower.contains("connection"))
    {
        return "cannot reach the AWS endpoint: check AWS_REGION, AWS_ENDPOINT_URL and the network"
            .to_owned();
    }
    let text = message.map_or_else(
        || chain.lines().next().unwrap_or_default().to_owned(),
        str::to_owned,
    );
    text.chars().take(200).collect()
}

/// `StartExecution` -> `states:StartExecution`, `PutEvents` -> `events:PutEvents`.
fn action_of(operation: &str) -> String {
    let service = if operation == "PutEvents" {
        "events"
    } else {
        "states"
    };
    format!("{service}:{operation}")
}

/// One execution found for a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub arn: String,
    pub status: String,
    /// Seconds since the epoch.
    pub started: i64,
}

impl Sfn {
    pub fn new(config: &SdkConfig) -> Sfn {
        Sfn {
            client: aws_sdk_sfn::Client::new(config),
        }
    }

    /// The whole history of an execution, oldest first.
    pub async fn history(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, OperatorError> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(execution_arn)
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api("GetExecutionHistory", e))?;
            events.extend(page.events().iter().map(HistoryEvent::from_sdk));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// The execution's input: DescribeExecution's, else the first event of its history (moto
    /// fails DescribeExecution on some outputs; its history can lag just after the start).
    pub async fn input(&self, execution_arn: &str) -> Result<Option<Value>, OperatorError> {
        if let Ok(described) = self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
        {
            if let Some(input) = described.input().and_then(|i| serde_json::from_str(i).ok()) {
                return Ok(Some(input));
            }
        }
        let page = self
            .client
            .get_execution_history()
            .execution_arn(execution_arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| api("GetExecutionHistory", e))?;
        let events: Vec<HistoryEvent> = page.events().iter().map(HistoryEvent::from_sdk).collect();
        Ok(execution_input(&events))
    }

    /// Starts an execution; returns its ARN.
    pub async fn start(
        &self,
        state_machine: &str,
        name: Option<&str>,
        input: &Value,
    ) -> Result<String, OperatorError> {
        let started = self
            .client
            .start_execution()
            .state_machine_arn(state_machine)
            .set_name(name.map(str::to_owned))
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| api("StartExecution", e))?;
        Ok(started.execution_arn().to_owned())
    }

    pub async fn send_task_success(
        &self,
        token: &str,
        output: &Value,
    ) -> Result<(), OperatorError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await
            .map_err(|e| api("SendTaskSuccess", e))?;
        Ok(())
    }

    pub async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), OperatorError> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map_err(|e| api("SendTaskFailure", e))?;
        Ok(())
    }

    /// Every state machine of the account and region (ARNs).
    pub async fn state_machines(&self) -> Result<Vec<String>, OperatorError> {
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_state_machines()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api("ListStateMachines", e))?;
            arns.extend(
                page.state_machines()
                    .iter()
                    .map(|m| m.state_machine_arn().to_owned()),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(arns)
    }

    /// The executions of `state_machines` whose request names `domain`, newest first
    /// (`running_only`: only those still running).
    pub async fn executions_for(
        &self,
        state_machines: &[String],
        domain: &str,
        running_only: bool,
    ) -> Result<Vec<Found>, OperatorError> {
        let wanted = domain.trim_end_matches('.').to_ascii_lowercase();
        let mut found = Vec::new();
        for machine in state_machines {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_executions()
                    .state_machine_arn(machine)
                    .set_status_filter(running_only.then_some(ExecutionStatus::Running))
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| api("ListExecutions", e))?;
                for execution in page.executions() {
                    let input = self.input(execution.execution_arn()).await?;
                    let domain = input
                        .as_ref()
                        .and_then(|i| i["domain"].as_str())
                        .map(|d| d.trim_end_matches('.').to_ascii_lowercase());
                    if domain.as_deref() == Some(wanted.as_str()) {
                        found.push(Found {
                            arn: execution.execution_arn().to_owned(),
                            status: execution.status().as_str().to_owned(),
                            started: execution.start_date().secs(),
                        });
                    }
                }
                match page.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                    _ => break,
                }
            }
        }
        found.sort_by_key(|f| std::cmp::Reverse(f.started));
        Ok(found)
    }
}

//! Step Functions in the local world: an ASL file runs in moto's Step Functions interpreter
//! and its Lambda tasks reach the real function binaries through `cargo lambda watch`.
//!
//! [`LocalStepFunctions::start`] starts `cargo lambda watch` (the functions talk to moto),
//! then moto with `--lambda-endpoint` (patch c of tests/world/moto_server.py: the interpreter
//! is on, and a Lambda invoke of a registered function is forwarded to `cargo lambda watch`,
//! a function error arriving as Lambda sends it, so Retry/Catch match on its `errorType`),
//! and registers the functions in moto under their binary names. [`StepFunctions`] is a
//! small client of moto's Step Functions, Lambda and IAM APIs over plain HTTP (no SDK crate
//! to build): create a state machine from an ASL file with `${Name}` placeholders
//! (DefinitionSubstitutions), start a named execution, follow its history, wait for its
//! end, answer a `.waitForTaskToken` task.
//!
//! Everything lives in moto's default account ([`ACCOUNT`]): the harness's credentials act
//! there, and so does the Lambda client of moto's interpreter, whatever account a function
//! ARN names. The functions themselves act in the source and target accounts by role.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Value};

use crate::http::Reply;
use crate::lambda::{try_free_port, LambdaWatch};
use crate::moto::Moto;

/// moto's default account, where the functions and state machines are registered.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// The IAM role functions and state machines are created with (moto checks it exists).
pub const ROLE_NAME: &str = "zonehop-local";
/// Any access key that is not a role session's acts in moto's default account.
const ACCESS_KEY: &str = "AKIAZONEHOPTEST00000";
/// How often history and status are polled while an execution runs.
const POLL: Duration = Duration::from_millis(200);

/// A failed call to moto, or a definition that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SfnError {
    #[error("{operation}: HTTP {status} {code}: {message}")]
    Api {
        operation: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{operation}: {message}")]
    Transport { operation: String, message: String },
    #[error("state machine definition: {0}")]
    Definition(String),
    #[error("execution {arn} was still {status} after {waited:?}")]
    Timeout {
        arn: String,
        status: ExecutionStatus,
        waited: Duration,
    },
    #[error("execution {arn} ended ({status}) before the event waited for")]
    Ended {
        arn: String,
        status: ExecutionStatus,
    },
}

impl SfnError {
    /// The API error code (`ExecutionAlreadyExists`, `InvalidToken` ...), if moto answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            SfnError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// An execution's status, as DescribeExecution spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    PendingRedrive,
    Other(String),
}

impl ExecutionStatus {
    fn parse(s: &str) -> ExecutionStatus {
        match s {
            "RUNNING" => ExecutionStatus::Running,
            "SUCCEEDED" => ExecutionStatus::Succeeded,
            "FAILED" => ExecutionStatus::Failed,
            "TIMED_OUT" => ExecutionStatus::TimedOut,
            "ABORTED" => ExecutionStatus::Aborted,
            "PENDING_REDRIVE" => ExecutionStatus::PendingRedrive,
            other => ExecutionStatus::Other(other.to_owned()),
        }
    }

    /// The status an execution-ending history event stands for.
    fn from_end_event(event_type: &str) -> Option<ExecutionStatus> {
        match event_type {
            "ExecutionSucceeded" => Some(ExecutionStatus::Succeeded),
            "ExecutionFailed" => Some(ExecutionStatus::Failed),
            "ExecutionTimedOut" => Some(ExecutionStatus::TimedOut),
            "ExecutionAborted" => Some(ExecutionStatus::Aborted),
            _ => None,
        }
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
            ExecutionStatus::PendingRedrive => "PENDING_REDRIVE",
            ExecutionStatus::Other(s) => s,
        };
        f.write_str(s)
    }
}

pub use zonehop_operator::history::{state_visits, HistoryEvent, StateVisit};

fn parse_json_text(value: &Value) -> Option<Value> {
    value
        .as_str()
        .map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned())))
}

/// An execution as it ended (or stood), with its whole history.
#[derive(Debug, Clone)]
pub struct Execution {
    pub arn: String,
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: Option<DateTime>,
    pub stop_date: Option<DateTime>,
    pub history: Vec<HistoryEvent>,
    /// Set when DescribeExecution failed and the status, output and error were read from the
    /// history instead (moto 5.2.5 answers 500 once a state's output holds a timestamp).
    pub describe_error: Option<String>,
}

impl Execution {
    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded
    }

    /// The states visited, in order.
    pub fn states(&self) -> Vec<StateVisit> {
        state_visits(&self.history)
    }

    /// The names of the states visited, in order.
    pub fn state_names(&self) -> Vec<String> {
        self.states().into_iter().map(|v| v.name).collect()
    }

    /// The history's events of one type.
    pub fn events(&self, event_type: &str) -> Vec<&HistoryEvent> {
        self.history
            .iter()
            .filter(|e| e.event_type == event_type)
            .collect()
    }

    /// How many times a task state called its resource (first attempt plus retries), over all
    /// its visits.
    pub fn task_attempts(&self, state: &str) -> usize {
        let mut current: Option<&str> = None;
        let mut attempts = 0;
        for event in &self.history {
            if let Some(name) = event.state_entered() {
                current = Some(name);
            } else if event.is_task_attempt() && current == Some(state) {
                attempts += 1;
            }
        }
        attempts
    }

    /// Start to stop, as Step Functions recorded them.
    pub fn duration(&self) -> Option<Duration> {
        let (start, stop) = (self.start_date?, self.stop_date?);
        Duration::try_from_secs_f64(stop.as_secs_f64() - start.as_secs_f64()).ok()
    }

    /// A one-line-per-event rendering of the history, for failure messages and logs.
    pub fn history_text(&self) -> String {
        self.history
            .iter()
            .map(|e| {
                let what = e
                    .state_entered()
                    .or(e.state_exited())
                    .map(str::to_owned)
                    .or_else(|| e.error().map(|err| format!("error {err}")))
                    .unwrap_or_default();
                format!(
                    "{:>4} {} {} {what}\n",
                    e.id,
                    e.timestamp.fmt(Format::DateTime).unwrap_or_default(),
                    e.event_type
                )
            })
            .collect()
    }
}

/// Replaces each `${Name}` in an ASL text with `values[Name]`, as CloudFormation's
/// DefinitionSubstitutions do (the value goes in as text, so a placeholder sits inside a
/// JSON string: `"FunctionName": "${CreateZoneFunctionArn}"`). A placeholder without a value
/// is an error, and so is a result that is not JSON.
pub fn substitute(definition: &str, values: &BTreeMap<String, String>) -> Result<String, SfnError> {
    let mut out = String::with_capacity(definition.len());
    let mut missing = Vec::new();
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| SfnError::Definition("a `${` is never closed".into()))?;
        let name = &after[..end];
        match values.get(name) {
            Some(value) => out.push_str(value),
            None => missing.push(name.to_owned()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if !missing.is_empty() {
        return Err(SfnError::Definition(format!(
            "no value for {}",
            missing
                .iter()
                .map(|m| format!("${{{m}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    serde_json::from_str::<Value>(&out)
        .map_err(|e| SfnError::Definition(format!("not JSON after substitution: {e}")))?;
    Ok(out)
}

/// The placeholder a function's ARN goes by: `create-zone` -> `CreateZoneFunctionArn`.
pub fn function_arn_key(binary: &str) -> String {
    let mut key: String = binary
        .split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    key.push_str("FunctionArn");
    key
}

/// A client of moto's Step Functions (and, to register functions, Lambda and IAM) APIs.
#[derive(Debug, Clone)]
pub struct StepFunctions {
    port: u16,
}

impl StepFunctions {
    /// The client of the moto server listening on `127.0.0.1:port`.
    pub fn new(port: u16) -> StepFunctions {
        StepFunctions { port }
    }

    async fn request(
        &self,
        service: &str,
        operation: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, SfnError> {
        // moto reads the service, region and account from the credential scope; it does not
        // check the signature.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let mut all = vec![("Authorization", authorization.as_str())];
        all.extend_from_slice(headers);
        crate::http::request(self.port, method, path, &all, body)
            .await
            .map_err(|e| SfnError::Transport {
                operation: operation.to_owned(),
                message: e.to_string(),
            })
    }

    /// One Step Functions call (JSON 1.0 protocol).
    async fn call(&self, action: &str, input: Value) -> Result<Value, SfnError> {
        let target = format!("AWSStepFunctions.{action}");
        let reply = self
            .request(
                "states",
                action,
                "POST",
                "/",
                &[
                    ("X-Amz-Target", &target),
                    ("Content-Type", "application/x-amz-json-1.0"),
                ],
                &input.to_string(),
            )
            .await?;
        let value: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        if reply.status == 200 {
            return Ok(value);
        }
        let code = value["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| "Unknown".into());
        let message = value["message"]
            .as_str()
            .or(value["Message"].as_str())
            .map_or_else(|| first_line(&reply.body), str::to_owned);
        Err(SfnError::Api {
            operation: action.to_owned(),
            status: reply.status,
            code,
            message,
        })
    }

    /// The role functions and state machines run with, created in IAM if it is missing.
    pub async fn ensure_role(&self) -> Result<String, SfnError> {
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": ["lambda.amazonaws.com", "states.amazonaws.com"] },
                "Action": "sts:AssumeRole"
            }]
        })
        .to_string();
        let form = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={ROLE_NAME}&AssumeRolePolicyDocument={}",
            percent_encode(&policy)
        );
        let reply = self
            .request(
                "iam",
                "CreateRole",
                "POST",
                "/",
                &[(
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )],
                &form,
            )
            .await?;
        if reply.status != 200 && !reply.body.contains("EntityAlreadyExists") {
            return Err(SfnError::Api {
                operation: "CreateRole".into(),
                status: reply.status,
                code: "Unknown".into(),
                message: first_line(&reply.body),
            });
        }
        Ok(format!("arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"))
    }

    /// Registers Lambda functions named after the binaries `cargo lambda watch` serves (a
    /// function already there is kept); returns each name's function ARN.
    pub async fn register_functions(
        &self,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, SfnError> {
        let role = self.ensure_role().await?;
        // An empty zip archive (its end-of-central-directory record): moto stores the code
        // and never runs it; the binaries come from the workspace.
        let empty_zip = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==";
        let mut arns = BTreeMap::new();
        for name in names {
            let body = json!({
                "FunctionName": name,
                "Runtime": "provided.al2023",
                "Handler": "bootstrap",
                "Role": role,
                "Code": { "ZipFile": empty_zip },
                "Architectures": ["arm64"],
                "Timeout": 900,
            });
            let reply = self
                .request(
                    "lambda",
                    "CreateFunction",
                    "POST",
                    "/2015-03-31/functions",
                    &[("Content-Type", "application/json")],
                    &body.to_string(),
                )
                .await?;
            let reply = if reply.status == 409 {
                self.request(
                    "lambda",
                    "GetFunction",
                    "GET",
                    &format!("/2015-03-31/functions/{name}"),
                    &[],
                    "",
                )
                .await?
            } else {
                reply
            };
            let value: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
            let arn = value["FunctionArn"]
                .as_str()
                .or(value["Configuration"]["FunctionArn"].as_str());
            match arn {
                Some(arn) if reply.status < 300 => {
                    arns.insert((*name).to_owned(), arn.to_owned());
                }
                _ => {
                    return Err(SfnError::Api {
                        operation: format!("CreateFunction {name}"),
                        status: reply.status,
                        code: value["Type"].as_str().unwrap_or("Unknown").to_owned(),
                        message: first_line(&reply.body),
                    })
                }
            }
        }
        Ok(arns)
    }

    /// Creates a STANDARD state machine from an ASL text (placeholders already substituted);
    /// returns its ARN.
    pub async fn create_state_machine(
        &self,
        name: &str,
        definition: &str,
    ) -> Result<String, SfnError> {
        let role = self.ensure_role().await?;
        let out = self
            .call(
                "CreateStateMachine",
                json!({ "name": name, "definition": definition, "roleArn": role, "type": "STANDARD" }),
            )
            .await?;
        Ok(out["stateMachineArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Reads an ASL file, substitutes its `${Name}` placeholders and creates the state machine.
    pub async fn create_state_machine_from_file(
        &self,
        name: &str,
        asl: &Path,
        values: &BTreeMap<String, String>,
    ) -> Result<String, SfnError> {
        self.create_state_machine_scaled(name, asl, values, 1).await
    }

    /// [`StepFunctions::create_state_machine_from_file`] with every `HeartbeatSeconds`
    /// divided by `scale` (at least 1 s): a rehearsal's day is a few seconds, as its TTLs are.
    pub async fn create_state_machine_scaled(
        &self,
        name: &str,
        asl: &Path,
        values: &BTreeMap<String, String>,
        scale: u64,
    ) -> Result<String, SfnError> {
        let text = std::fs::read_to_string(asl)
            .map_err(|e| SfnError::Definition(format!("{}: {e}", asl.display())))?;
        let text = if scale > 1 {
            let mut asl: Value = serde_json::from_str(&text)
                .map_err(|e| SfnError::Definition(format!("{}: {e}", asl.display())))?;
            scale_heartbeats(&mut asl, scale);
            asl.to_string()
        } else {
            text
        };
        let definition = substitute(&text, values)
            .map_err(|e| SfnError::Definition(format!("{}: {e}", asl.display())))?;
        self.create_state_machine(name, &definition).await
    }

    /// Starts an execution named `name` (names are unique per state machine); returns its ARN.
    pub async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &Value,
    ) -> Result<String, SfnError> {
        let out = self
            .call(
                "StartExecution",
                json!({ "stateMachineArn": state_machine_arn, "name": name, "input": input.to_string() }),
            )
            .await?;
        Ok(out["executionArn"].as_str().unwrap_or_default().to_owned())
    }

    /// The execution's history so far (every page).
    pub async fn history(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, SfnError> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = json!({ "executionArn": execution_arn, "maxResults": 1000 });
            if let Some(t) = &token {
                input["nextToken"] = json!(t);
            }
            let out = self.call("GetExecutionHistory", input).await?;
            events.extend(
                out["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(HistoryEvent::from_json),
            );
            token = out["nextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                return Ok(events);
            }
        }
    }

    /// DescribeExecution, with the history fetched too.
    pub async fn describe_execution(&self, execution_arn: &str) -> Result<Execution, SfnError> {
        let history = self.history(execution_arn).await?;
        self.describe_with(execution_arn, history).await
    }

    async fn describe_with(
        &self,
        execution_arn: &str,
        history: Vec<HistoryEvent>,
    ) -> Result<Execution, SfnError> {
        let described = self
            .call(
                "DescribeExecution",
                json!({ "executionArn": execution_arn }),
            )
            .await;
        let out = match described {
            Ok(out) => out,
            Err(e @ SfnError::Api { status: 500, .. }) => {
                return Ok(from_history(execution_arn, history, Some(e)))
            }
            Err(e) => return Err(e),
        };
        let text = |key: &str| out[key].as_str().map(str::to_owned);
        let date = |key: &str| out[key].as_f64().map(DateTime::from_secs_f64);
        Ok(Execution {
            arn: execution_arn.to_owned(),
            status: ExecutionStatus::parse(out["status"].as_str().unwrap_or_default()),
            output: parse_json_text(&out["output"]),
            error: text("error"),
            cause: text("cause"),
            start_date: date("startDate"),
            stop_date: date("stopDate"),
            history,
            describe_error: None,
        })
    }

    /// Follows an execution until it ends: `on_event` sees every history event once, in order,
    /// as it appears (a rehearsal prints its progress from it). Fails after `timeout`.
    pub async fn follow(
        &self,
        execution_arn: &str,
        timeout: Duration,
        mut on_event: impl FnMut(&HistoryEvent),
    ) -> Result<Execution, SfnError> {
        let started = Instant::now();
        let mut seen = 0;
        loop {
            let history = self.history(execution_arn).await?;
            let before = seen;
            for event in history.iter().filter(|e| e.id > before) {
                on_event(event);
                seen = event.id;
            }
            if history.iter().any(HistoryEvent::ends_execution) {
                // The end event is written before the status flips: wait for the status.
                let mut execution = self.describe_with(execution_arn, history).await?;
                let settle = Instant::now();
                while execution.status == ExecutionStatus::Running
                    && settle.elapsed() < Duration::from_secs(5)
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    execution = self.describe_execution(execution_arn).await?;
                }
                return Ok(execution);
            }
            if started.elapsed() > timeout {
                return Err(SfnError::Timeout {
                    arn: execution_arn.to_owned(),
                    status: ExecutionStatus::Running,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for the execution's end.
    pub async fn wait_for_end(
        &self,
        execution_arn: &str,
        timeout: Duration,
    ) -> Result<Execution, SfnError> {
        self.follow(execution_arn, timeout, |_| {}).await
    }

    /// Waits for the first history event that matches (for example the `TaskScheduled` of a
    /// `.waitForTaskToken` state, whose parameters hold the token). Fails when the execution
    /// ends first or after `timeout`.
    pub async fn wait_for_event(
        &self,
        execution_arn: &str,
        timeout: Duration,
        matches: impl Fn(&HistoryEvent) -> bool,
    ) -> Result<HistoryEvent, SfnError> {
        let started = Instant::now();
        loop {
            let history = self.history(execution_arn).await?;
            if let Some(event) = history.iter().find(|e| matches(e)) {
                return Ok(event.clone());
            }
            if let Some(end) = history.iter().find(|e| e.ends_execution()) {
                return Err(SfnError::Ended {
                    arn: execution_arn.to_owned(),
                    status: ExecutionStatus::from_end_event(&end.event_type)
                        .unwrap_or(ExecutionStatus::Other(end.event_type.clone())),
                });
            }
            if started.elapsed() > timeout {
                return Err(SfnError::Timeout {
                    arn: execution_arn.to_owned(),
                    status: ExecutionStatus::Running,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Completes a `.waitForTaskToken` task with `output` (its result).
    pub async fn send_task_success(
        &self,
        task_token: &str,
        output: &Value,
    ) -> Result<(), SfnError> {
        self.call(
            "SendTaskSuccess",
            json!({ "taskToken": task_token, "output": output.to_string() }),
        )
        .await
        .map(drop)
    }

    /// Fails a `.waitForTaskToken` task with an error name Retry/Catch can match.
    pub async fn send_task_failure(
        &self,
        task_token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), SfnError> {
        self.call(
            "SendTaskFailure",
            json!({ "taskToken": task_token, "error": error, "cause": cause }),
        )
        .await
        .map(drop)
    }

    pub async fn send_task_heartbeat(&self, task_token: &str) -> Result<(), SfnError> {
        self.call("SendTaskHeartbeat", json!({ "taskToken": task_token }))
            .await
            .map(drop)
    }

    /// The executions of a state machine (every page): (ARN, status).
    pub async fn list_executions(
        &self,
        state_machine_arn: &str,
    ) -> Result<Vec<(String, String)>, SfnError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = json!({ "stateMachineArn": state_machine_arn, "maxResults": 1000 });
            if let Some(t) = &token {
                input["nextToken"] = json!(t);
            }
            let page = self.call("ListExecutions", input).await?;
            for e in page["executions"].as_array().into_iter().flatten() {
                out.push((
                    e["executionArn"].as_str().unwrap_or_default().to_owned(),
                    e["status"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            token = page["nextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Stops a running execution.
    pub async fn stop_execution(&self, execution_arn: &str) -> Result<(), SfnError> {
        self.call("StopExecution", json!({ "executionArn": execution_arn }))
            .await
            .map(drop)
    }
}

/// The execution as its history tells it (when DescribeExecution cannot answer).
fn from_history(arn: &str, history: Vec<HistoryEvent>, describe: Option<SfnError>) -> Execution {
    let end = history.iter().rev().find(|e| e.ends_execution());
    Execution {
        arn: arn.to_owned(),
        status: end
            .and_then(|e| ExecutionStatus::from_end_event(&e.event_type))
            .unwrap_or(ExecutionStatus::Running),
        output: end.and_then(HistoryEvent::output),
        error: end.and_then(|e| e.error().map(str::to_owned)),
        cause: end.and_then(|e| e.cause().map(str::to_owned)),
        start_date: history
            .iter()
            .find(|e| e.event_type == "ExecutionStarted")
            .map(|e| e.timestamp),
        stop_date: end.map(|e| e.timestamp),
        describe_error: describe.map(|e| e.to_string()),
        history,
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Divides every `HeartbeatSeconds` of a definition by `scale` (at least 1 s).
fn scale_heartbeats(value: &mut Value, scale: u64) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "HeartbeatSeconds" {
                    if let Some(seconds) = child.as_u64() {
                        *child = json!((seconds / scale).max(1));
                    }
                } else {
                    scale_heartbeats(child, scale);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scale_heartbeats(v, scale)),
        _ => {}
    }
}

/// The ledger's table name in the local world.
pub const LEDGER_TABLE: &str = "zonehop-ledger";

/// Creates the ledger's table as `infra/template.yaml` does (keys `domain` and `item`).
pub async fn create_ledger(config: &aws_config::SdkConfig) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let client = aws_sdk_dynamodb::Client::new(config);
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| e.to_string())
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| e.to_string())
    };
    client
        .create_table()
        .table_name(LEDGER_TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("domain")?)
        .attribute_definitions(attribute("item")?)
        .key_schema(key("domain", KeyType::Hash)?)
        .key_schema(key("item", KeyType::Range)?)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot create the ledger table in moto: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(())
}

/// The environment the functions run with: AWS at `endpoint`, dummy credentials.
///
/// The window's bounds are scaled as the rehearsal's TTLs are: a probe resolver silent for
/// 10 rounds and 15 s is left out (3,600 s in AWS), and the parent must switch within 90 s
/// of the first round (72 hours in AWS).
pub fn functions_env(endpoint: &str) -> [(&'static str, String); 7] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIAZONEHOPLAMBDA000".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("ZONEHOP_LEDGER_TABLE", LEDGER_TABLE.to_owned()),
        ("ZONEHOP_SILENT_RESOLVER_SECONDS", "15".to_owned()),
        ("ZONEHOP_PARENT_SWITCH_DEADLINE_SECONDS", "90".to_owned()),
    ]
}

/// moto with its Step Functions interpreter on, `cargo lambda watch` serving the function
/// binaries, and those functions registered in moto: the world a state machine rehearses in.
#[derive(Debug)]
pub struct LocalStepFunctions {
    pub moto: Moto,
    pub watch: LambdaWatch,
    pub sfn: StepFunctions,
    /// Binary name -> function ARN in moto.
    pub functions: BTreeMap<String, String>,
}

impl LocalStepFunctions {
    /// Starts the world for the given binaries; `cargo lambda watch`'s output and the
    /// functions' logs go to `log`, moto's to `<log stem>-moto.log` beside it. Panics when a piece does not start (a test harness).
    pub async fn start(functions: &[&str], log: &Path) -> LocalStepFunctions {
        LocalStepFunctions::try_start(functions, log)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`LocalStepFunctions::start`] that says which piece did not start instead of
    /// panicking.
    pub async fn try_start(functions: &[&str], log: &Path) -> Result<LocalStepFunctions, String> {
        // The functions must know moto's endpoint and moto the watch's: moto's port is chosen
        // first and handed to moto when it starts second.
        let moto_port = try_free_port()?;
        LocalStepFunctions::try_start_at(
            functions,
            log,
            moto_port,
            &format!("http://127.0.0.1:{moto_port}"),
            None,
        )
        .await
    }

    /// [`LocalStepFunctions::try_start`] with moto on `moto_port` (free, chosen by the
    /// caller) and the functions given `functions_endpoint` as their AWS endpoint: a fault
    /// proxy in front of moto (`crate::faults::proxy`); `lambda_endpoint`, when given, is
    /// where moto sends Lambda invokes instead of `cargo lambda watch` (the same proxy, which
    /// then forwards them to [`LambdaWatch::port`]).
    pub async fn try_start_at(
        functions: &[&str],
        log: &Path,
        moto_port: u16,
        functions_endpoint: &str,
        lambda_endpoint: Option<&str>,
    ) -> Result<LocalStepFunctions, String> {
        let env = functions_env(functions_endpoint);
        let watch = LambdaWatch::try_start(&env, log).await?;
        let lambda_endpoint = lambda_endpoint.map_or_else(
            || format!("http://127.0.0.1:{}", watch.port()),
            str::to_owned,
        );
        let port = moto_port.to_string();
        let stem = log
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let moto_log = log.with_file_name(format!("{stem}-moto.log"));
        let moto = Moto::try_start_logged(
            &["--port", &port, "--lambda-endpoint", &lambda_endpoint],
            Some(&moto_log),
        )
        .await?;
        create_ledger(&moto.config().await).await?;
        let sfn = StepFunctions::new(moto.port());
        let functions = sfn
            .register_functions(functions)
            .await
            .map_err(|e| format!("cannot register the functions in moto: {e}"))?;
        Ok(LocalStepFunctions {
            moto,
            watch,
            sfn,
            functions,
        })
    }

    /// The ledger's table in the emulator (`ZONEHOP_LEDGER_TABLE` of every function).
    pub fn ledger_table(&self) -> &'static str {
        LEDGER_TABLE
    }

    /// `${CreateZoneFunctionArn}`-style substitutions for every registered function, plus
    /// `extra`.
    pub fn substitutions(&self, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        self.functions
            .iter()
            .map(|(name, arn)| (function_arn_key(name), arn.clone()))
            .chain(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            )
            .collect()
    }

    /// Invokes every function once with an empty event (each fails to read it and changes
    /// nothing), so that no task of a timed execution waits for `cargo lambda watch` to build
    /// a binary. Returns how long that took.
    pub async fn warm_up(&self) -> Duration {
        self.try_warm_up().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`LocalStepFunctions::warm_up`], or the first function `cargo lambda watch` did not
    /// answer for (its build failed, most likely).
    pub async fn try_warm_up(&self) -> Result<Duration, String> {
        let started = Instant::now();
        for name in self.functions.keys() {
            if let Err(e) = self.watch.invoke(name, &json!({})).await {
                if e.error_type == "InvokeFailed" {
                    return Err(format!("cargo lambda watch did not answer for {name}: {e}"));
                }
            }
        }
        Ok(started.elapsed())
    }

    /// Creates a state machine from an ASL file (function ARNs and `extra` substituted), starts
    /// an execution and waits for its end.
    pub async fn run(
        &self,
        asl: &Path,
        extra: &[(&str, &str)],
        execution_name: &str,
        input: &Value,
        timeout: Duration,
    ) -> Result<Execution, SfnError> {
        let machine_name = asl
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim_end_matches(".json").trim_end_matches(".asl"))
            .unwrap_or("state-machine")
            .to_owned();
        let machine = self
            .sfn
            .create_state_machine_from_file(&machine_name, asl, &self.substitutions(extra))
            .await?;
        let execution = self
            .sfn
            .start_execution(&machine, execution_name, input)
            .await?;
        self.sfn.wait_for_end(&execution, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_a_missing_one_is_named() {
        let values: BTreeMap<String, String> =
            [("CreateZoneFunctionArn".to_owned(), "arn:x".to_owned())].into();
        let asl = r#"{"a": "${CreateZoneFunctionArn}", "b": "$.domain"}"#;
        assert_eq!(
            substitute(asl, &values).expect("substituted"),
            r#"{"a": "arn:x", "b": "$.domain"}"#
        );
        let err = substitute(r#"{"a": "${Missing}"}"#, &values).expect_err("missing");
        assert!(err.to_string().contains("${Missing}"), "{err}");
    }

    #[test]
    fn function_arn_keys_follow_the_binary_names() {
        assert_eq!(function_arn_key("create-zone"), "CreateZoneFunctionArn");
        assert_eq!(
            function_arn_key("delegate-subdomain"),
            "DelegateSubdomainFunctionArn"
        );
    }

    #[test]
    fn visits_pair_entered_and_exited_events() {
        let history: Vec<HistoryEvent> = [
            json!({"id": 1, "timestamp": 10.0, "type": "ExecutionStarted"}),
            json!({"id": 2, "timestamp": 10.5, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "A"}}),
            json!({"id": 3, "timestamp": 10.6, "type": "TaskScheduled", "taskScheduledEventDetails": {"parameters": "{\"x\":1}"}}),
            json!({"id": 4, "timestamp": 11.0, "type": "TaskStateExited", "stateExitedEventDetails": {"name": "A"}}),
            json!({"id": 5, "timestamp": 11.0, "type": "PassStateEntered", "stateEnteredEventDetails": {"name": "B"}}),
        ]
        .iter()
        .map(HistoryEvent::from_json)
        .collect();
        let visits = state_visits(&history);
        assert_eq!(visits.len(), 2);
        assert_eq!(
            (visits[0].name.as_str(), visits[0].state_type.as_str()),
            ("A", "Task")
        );
        assert_eq!(visits[0].exited, Some(DateTime::from_secs_f64(11.0)));
        assert_eq!(visits[1].exited, None);
        assert_eq!(history[2].parameters(), Some(json!({"x": 1})));
    }
}

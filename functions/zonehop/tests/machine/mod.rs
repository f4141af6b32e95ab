//! The migration state machine (statemachine/migration.asl.json, the file itself) run on the
//! twins: a small interpreter of the Amazon States Language features that file uses (Pass,
//! Task, Choice, Wait, Map, Succeed, Fail; Parameters, ResultSelector, ResultPath,
//! OutputPath; Retry and Catch; `States.JsonMerge` and `States.Format`), with the
//! `ManualClock` as its clock. A test's [`Invoker`] serves the Lambda tasks by calling the
//! steps on the twins, so a whole execution runs in milliseconds, and a fault can stop it
//! at any state or crash any task after its work is done.
//!
//! It is no substitute for the real interpreter (moto's, in the end-to-end tests): it has
//! no timeouts, no jitter (a retry waits its full interval), and `States.Runtime` is any
//! path that does not resolve. What it gives is the ASL's own routing (which failure rolls
//! back, which ends the run, which is announced and passed over) with every step's real
//! code, fast enough to run every fault at every state.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;

use serde_json::{json, Map, Value};
use zonehop::adapters::memory::ManualClock;

/// The migration state machine's definition, read from the repository.
pub fn migration_definition() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../statemachine/migration.asl.json"
    );
    let text = std::fs::read_to_string(path).expect("the ASL file");
    serde_json::from_str(&text).expect("the ASL is JSON")
}

/// An error a state raised: its name (`States.Runtime`, a step's errorType) and cause.
#[derive(Debug, Clone, PartialEq)]
pub struct StateError {
    pub error: String,
    pub cause: String,
}

impl StateError {
    pub fn new(error: &str, cause: impl Into<String>) -> StateError {
        StateError {
            error: error.to_owned(),
            cause: cause.into(),
        }
    }

    fn runtime(cause: impl Into<String>) -> StateError {
        StateError::new("States.Runtime", cause)
    }
}

/// Serves the state machine's Lambda tasks: `function` is the function's name as the
/// template names it (`sync-records`), `payload` what the task's Parameters built.
pub trait Invoker {
    fn invoke(
        &self,
        function: &str,
        payload: Value,
    ) -> impl Future<Output = Result<Value, StateError>>;
}

/// A fault injected into one execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The execution is stopped (StopExecution) as it enters this state for the `nth`
    /// time (1: the first).
    StopAt { state: String, nth: usize },
    /// This task's function does its work, then its invocation fails with
    /// `Runtime.ExitError` (a crash no Retry matches), every time it is entered.
    CrashAfter { state: String },
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Succeeded(Value),
    Failed { state: String, error: StateError },
    Aborted { state: String },
}

impl Ended {
    pub fn status(&self) -> &'static str {
        match self {
            Ended::Succeeded(_) => "SUCCEEDED",
            Ended::Failed { .. } => "FAILED",
            Ended::Aborted { .. } => "ABORTED",
        }
    }
}

/// One execution's run: the states it entered, in order, and the events it put.
#[derive(Debug, Default)]
pub struct Trace {
    pub states: Vec<String>,
    pub events: Vec<Value>,
}

impl Trace {
    pub fn entered(&self, state: &str) -> bool {
        self.states.iter().any(|s| s == state)
    }
}

/// The interpreter for one execution.
pub struct Machine<'a, I: Invoker> {
    pub definition: &'a Value,
    pub invoker: &'a I,
    pub clock: &'a ManualClock,
    pub execution_id: String,
    pub faults: Vec<Fault>,
    pub trace: Trace,
}

enum Outcome {
    Next(String, Value),
    End(Value),
    Failed(StateError),
    Aborted,
}

type Boxed<'f, T> = Pin<Box<dyn Future<Output = T> + 'f>>;

impl<'a, I: Invoker> Machine<'a, I> {
    pub fn new(definition: &'a Value, invoker: &'a I, clock: &'a ManualClock, id: &str) -> Self {
        Machine {
            definition,
            invoker,
            clock,
            execution_id: id.to_owned(),
            faults: Vec::new(),
            trace: Trace::default(),
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Runs the execution with `input` to its end.
    pub async fn run(&mut self, input: Value) -> Ended {
        let definition = self.definition;
        let context = json!({ "Execution": { "Id": self.execution_id } });
        match self.run_block(definition, input, context).await {
            Block::Done(output) => Ended::Succeeded(output),
            Block::Failed(state, error) => Ended::Failed { state, error },
            Block::Aborted(state) => Ended::Aborted { state },
        }
    }

    fn run_block<'s>(
        &'s mut self,
        block: &'s Value,
        input: Value,
        context: Value,
    ) -> Boxed<'s, Block>
    where
        'a: 's,
    {
        Box::pin(async move {
            let states = &block["States"];
            let mut name = block["StartAt"].as_str().expect("StartAt").to_owned();
            let mut input = input;
            loop {
                let state = &states[name.as_str()];
                assert!(state.is_object(), "the ASL names a state it lacks: {name}");
                self.trace.states.push(name.clone());
                let visits = self.trace.states.iter().filter(|s| **s == name).count();
                let stopped = self.faults.iter().any(|f| {
                    matches!(f, Fault::StopAt { state: at, nth } if *at == name && visits == *nth)
                });
                if stopped {
                    return Block::Aborted(name);
                }
                let outcome = self.step(&name, state, input.clone(), &context).await;
                let outcome = match outcome {
                    Outcome::Failed(error) => match catcher(state, &error) {
                        Some(catch) => {
                            let caught = json!({ "Error": error.error, "Cause": error.cause });
                            match put_result(&input, catch.get("ResultPath"), caught) {
                                Ok(output) => Outcome::Next(
                                    catch["Next"].as_str().expect("Catch Next").to_owned(),
                                    output,
                                ),
                                Err(error) => Outcome::Failed(error),
                            }
                        }
                        None => Outcome::Failed(error),
                    },
                    other => other,
                };
                match outcome {
                    Outcome::Next(next, output) => {
                        name = next;
                        input = output;
                    }
                    Outcome::End(output) => return Block::Done(output),
                    Outcome::Failed(error) => return Block::Failed(name, error),
                    Outcome::Aborted => return Block::Aborted(name),
                }
            }
        })
    }

    async fn step(&mut self, name: &str, state: &Value, input: Value, context: &Value) -> Outcome {
        let next = |output: Value| match state["Next"].as_str() {
            Some(next) => Outcome::Next(next.to_owned(), output),
            None => Outcome::End(output),
        };
        let result = match state["Type"].as_str().expect("Type") {
            "Pass" => self.pass(state, &input, context),
            "Task" => self.task(name, state, &input, context).await,
            "Map" => match self.map(state, &input, context).await {
                Ok(output) => Ok(output),
                Err(MapEnd::Error(error)) => Err(error),
                Err(MapEnd::Aborted) => return Outcome::Aborted,
            },
            "Choice" => {
                return match choose(state, &input) {
                    Ok(next) => Outcome::Next(next, input),
                    Err(error) => Outcome::Failed(error),
                }
            }
            "Wait" => {
                let seconds = match state.get("SecondsPath") {
                    Some(path) => path_of(&input, context, path.as_str().expect("SecondsPath"))
                        .and_then(|v| {
                            v.as_i64()
                                .ok_or_else(|| StateError::runtime("SecondsPath is not an integer"))
                        }),
                    None => Ok(state["Seconds"].as_i64().expect("Seconds")),
                };
                match seconds {
                    Ok(seconds) => {
                        self.clock.advance(seconds);
                        Ok(input.clone())
                    }
                    Err(error) => Err(error),
                }
            }
            "Succeed" => return Outcome::End(input),
            "Fail" => {
                let text = |field: &str, path: &str| {
                    state[field].as_str().map(str::to_owned).unwrap_or_else(|| {
                        state[path]
                            .as_str()
                            .and_then(|p| path_of(&input, context, p).ok())
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    })
                };
                return Outcome::Failed(StateError::new(
                    &text("Error", "ErrorPath"),
                    text("Cause", "CausePath"),
                ));
            }
            other => panic!("the twin interpreter does not know a {other} state ({name})"),
        };
        match result {
            Ok(output) => next(output),
            Err(error) => Outcome::Failed(error),
        }
    }

    fn pass(&self, state: &Value, input: &Value, context: &Value) -> Result<Value, StateError> {
        let result = match (state.get("Parameters"), state.get("Result")) {
            (Some(parameters), _) => fill(parameters, input, context)?,
            (None, Some(result)) => result.clone(),
            (None, None) => input.clone(),
        };
        let output = put_result(input, state.get("ResultPath"), result)?;
        select(&output, context, state.get("OutputPath"))
    }

    async fn task(
        &mut self,
        name: &str,
        state: &Value,
        input: &Value,
        context: &Value,
    ) -> Result<Value, StateError> {
        let parameters = match state.get("Parameters") {
            Some(parameters) => fill(parameters, input, context)?,
            None => input.clone(),
        };
        let resource = state["Resource"].as_str().expect("Resource");
        let retries = state["Retry"].as_array().cloned().unwrap_or_default();
        let mut attempts = vec![0_i64; retries.len()];
        let raw = loop {
            let attempt = match resource {
                "arn:aws:states:::lambda:invoke" => self.invoke(name, &parameters).await,
                "arn:aws:states:::events:putEvents" => {
                    self.trace.events.extend(
                        parameters["Entries"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default(),
                    );
                    Ok(json!({ "FailedEntryCount": 0, "Entries": [{ "EventId": "twin" }] }))
                }
                other => panic!("the twin interpreter does not serve {other} ({name})"),
            };
            match attempt {
                Ok(raw) => break raw,
                Err(error) => {
                    let retry = retries
                        .iter()
                        .position(|r| matches(r["ErrorEquals"].as_array(), &error.error));
                    let Some(index) = retry else {
                        return Err(error);
                    };
                    let rule = &retries[index];
                    let max = rule["MaxAttempts"].as_i64().unwrap_or(3);
                    if attempts[index] >= max {
                        return Err(error);
                    }
                    let interval = rule["IntervalSeconds"].as_f64().unwrap_or(1.0);
                    let backoff = rule["BackoffRate"].as_f64().unwrap_or(2.0);
                    let cap = rule["MaxDelaySeconds"].as_f64().unwrap_or(f64::MAX);
                    let wait = (interval * backoff.powi(attempts[index] as i32)).min(cap);
                    attempts[index] += 1;
                    self.clock.advance(wait.ceil() as i64);
                }
            }
        };
        let result = match state.get("ResultSelector") {
            Some(selector) => fill(selector, &raw, context)?,
            None => raw,
        };
        let output = put_result(input, state.get("ResultPath"), result)?;
        select(&output, context, state.get("OutputPath"))
    }

    async fn invoke(&mut self, name: &str, parameters: &Value) -> Result<Value, StateError> {
        let function = function_name(parameters["FunctionName"].as_str().expect("FunctionName"));
        let payload = parameters["Payload"].clone();
        let out = self.invoker.invoke(&function, payload).await?;
        let crash = self
            .faults
            .iter()
            .any(|f| matches!(f, Fault::CrashAfter { state } if state == name));
        {
            if crash {
                return Err(StateError::new(
                    "Runtime.ExitError",
                    format!("{function} exited after its work (an injected crash)"),
                ));
            }
        }
        Ok(json!({ "StatusCode": 200, "Payload": out }))
    }

    async fn map(
        &mut self,
        state: &Value,
        input: &Value,
        context: &Value,
    ) -> Result<Value, MapEnd> {
        let items = path_of(input, context, state["ItemsPath"].as_str().unwrap_or("$"))
            .map_err(MapEnd::Error)?;
        let items = items.as_array().cloned().unwrap_or_default();
        let processor = state
            .get("ItemProcessor")
            .or_else(|| state.get("Iterator"))
            .expect("a Map's states");
        let mut outputs = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let mut inner = context.clone();
            inner["Map"] = json!({ "Item": { "Index": index, "Value": item } });
            let item_input = match state.get("ItemSelector") {
                Some(selector) => fill(selector, input, &inner).map_err(MapEnd::Error)?,
                None => item,
            };
            match self.run_block(processor, item_input, inner).await {
                Block::Done(output) => outputs.push(output),
                Block::Failed(_, error) => return Err(MapEnd::Error(error)),
                Block::Aborted(_) => return Err(MapEnd::Aborted),
            }
        }
        let output = put_result(input, state.get("ResultPath"), Value::Array(outputs))
            .map_err(MapEnd::Error)?;
        select(&output, context, state.get("OutputPath")).map_err(MapEnd::Error)
    }
}

enum Block {
    Done(Value),
    Failed(String, StateError),
    Aborted(String),
}

enum MapEnd {
    Error(StateError),
    Aborted,
}

/// `${SyncRecordsFunctionArn}` -> `sync-records`.
fn function_name(placeholder: &str) -> String {
    zonehop::core::access::Work::of_arn_placeholder(placeholder)
        .map(|work| work.function_name().to_owned())
        .unwrap_or_else(|| panic!("the ASL names {placeholder}, which is no function of zonehop"))
}

/// Whether an `ErrorEquals` list matches `error`: by name, or `States.ALL` for every error
/// but `States.Runtime` and `States.DataLimitExceeded` (as Step Functions does).
fn matches(list: Option<&Vec<Value>>, error: &str) -> bool {
    list.into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|e| {
            e == error
                || (e == "States.ALL"
                    && !matches!(error, "States.Runtime" | "States.DataLimitExceeded"))
        })
}

fn catcher<'v>(state: &'v Value, error: &StateError) -> Option<&'v Value> {
    state["Catch"]
        .as_array()?
        .iter()
        .find(|c| matches(c["ErrorEquals"].as_array(), &error.error))
}

/// A JSONPath of the kind the ASL uses: `$`, `$.a.b`, `$$.Execution.Id`.
fn path_of(input: &Value, context: &Value, path: &str) -> Result<Value, StateError> {
    let (root, rest) = match path.strip_prefix("$$") {
        Some(rest) => (context, rest),
        None => (
            input,
            path.strip_prefix('$')
                .ok_or_else(|| StateError::runtime(format!("not a path: {path}")))?,
        ),
    };
    let mut at = root;
    for key in rest.split('.').filter(|k| !k.is_empty()) {
        at = at
            .get(key)
            .ok_or_else(|| StateError::runtime(format!("the path {path} does not resolve")))?;
    }
    Ok(at.clone())
}

/// Parameters, ResultSelector and ItemSelector: `key.$` fields evaluated against `input`.
fn fill(template: &Value, input: &Value, context: &Value) -> Result<Value, StateError> {
    Ok(match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match key.strip_suffix(".$") {
                    Some(bare) => {
                        let expression = value.as_str().expect("a path or an intrinsic");
                        out.insert(bare.to_owned(), evaluate(expression, input, context)?);
                    }
                    None => {
                        out.insert(key.clone(), fill(value, input, context)?);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| fill(item, input, context))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// A path or an intrinsic call (`States.JsonMerge(a, b, false)`, `States.Format('{}', $.x)`).
fn evaluate(expression: &str, input: &Value, context: &Value) -> Result<Value, StateError> {
    let mut parser = Intrinsic {
        text: expression.trim(),
        at: 0,
    };
    let value = parser.argument(input, context)?;
    Ok(value)
}

struct Intrinsic<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Intrinsic<'t> {
    fn rest(&self) -> &'t str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        while self.rest().starts_with(' ') {
            self.at += 1;
        }
    }

    fn argument(&mut self, input: &Value, context: &Value) -> Result<Value, StateError> {
        self.skip_space();
        let rest = self.rest();
        if let Some(body) = rest.strip_prefix('\'') {
            let end = body.find('\'').expect("a closed string");
            let text = body[..end].to_owned();
            self.at += end + 2;
            return Ok(Value::String(text));
        }
        let end = rest.find([',', ')']).unwrap_or(rest.len());
        let word = rest[..end].trim();
        if rest.starts_with("States.") {
            let open = rest.find('(').expect("a call");
            let function = rest[..open].to_owned();
            self.at += open + 1;
            let mut arguments = Vec::new();
            loop {
                arguments.push(self.argument(input, context)?);
                self.skip_space();
                let next = self.rest().chars().next().expect("a closed call");
                self.at += 1;
                if next == ')' {
                    break;
                }
            }
            return call(&function, arguments);
        }
        self.at += end;
        match word {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            path if path.starts_with('$') => path_of(input, context, path),
            number => number
                .parse::<f64>()
                .map(|n| json!(n))
                .map_err(|_| StateError::runtime(format!("not an argument: {number}"))),
        }
    }
}

fn call(function: &str, arguments: Vec<Value>) -> Result<Value, StateError> {
    match function {
        "States.JsonMerge" => {
            let (Some(Value::Object(left)), Some(Value::Object(right))) =
                (arguments.first(), arguments.get(1))
            else {
                return Err(StateError::runtime("States.JsonMerge takes two objects"));
            };
            let mut merged = left.clone();
            for (key, value) in right {
                merged.insert(key.clone(), value.clone());
            }
            Ok(Value::Object(merged))
        }
        "States.Format" => {
            let template = arguments
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| StateError::runtime("States.Format takes a template"))?;
            let mut out = String::new();
            let mut values = arguments[1..].iter();
            let mut pieces = template.split("{}");
            out.push_str(pieces.next().unwrap_or_default());
            for piece in pieces {
                match values.next() {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                    None => return Err(StateError::runtime("States.Format lacks an argument")),
                }
                out.push_str(piece);
            }
            Ok(Value::String(out))
        }
        other => Err(StateError::runtime(format!(
            "the twin interpreter lacks {other}"
        ))),
    }
}

/// ResultPath: null keeps the input; `$` replaces it; `$.a.b` sets that field.
fn put_result(input: &Value, path: Option<&Value>, result: Value) -> Result<Value, StateError> {
    match path {
        Some(Value::Null) => Ok(input.clone()),
        None => Ok(result),
        Some(Value::String(path)) if path == "$" => Ok(result),
        Some(Value::String(path)) => {
            let keys: Vec<&str> = path
                .strip_prefix("$.")
                .ok_or_else(|| StateError::runtime(format!("a ResultPath: {path}")))?
                .split('.')
                .collect();
            let mut output = input.clone();
            let mut at = &mut output;
            for key in &keys[..keys.len() - 1] {
                if !at.get(*key).is_some_and(Value::is_object) {
                    at[*key] = json!({});
                }
                at = &mut at[*key];
            }
            if !at.is_object() {
                return Err(StateError::runtime(format!(
                    "ResultPath {path} lands in a non-object"
                )));
            }
            at[keys[keys.len() - 1]] = result;
            Ok(output)
        }
        Some(other) => Err(StateError::runtime(format!("a ResultPath: {other}"))),
    }
}

fn select(output: &Value, context: &Value, path: Option<&Value>) -> Result<Value, StateError> {
    match path.and_then(Value::as_str) {
        Some(path) => path_of(output, context, path),
        None => Ok(output.clone()),
    }
}

fn choose(state: &Value, input: &Value) -> Result<String, StateError> {
    for choice in state["Choices"].as_array().expect("Choices") {
        if condition(choice, input)? {
            return Ok(choice["Next"].as_str().expect("Next").to_owned());
        }
    }
    state["Default"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| StateError::new("States.NoChoiceMatched", "no choice matched"))
}

fn condition(rule: &Value, input: &Value) -> Result<bool, StateError> {
    if let Some(all) = rule.get("And") {
        for r in all.as_array().expect("And") {
            if !condition(r, input)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = rule.get("Or") {
        for r in any.as_array().expect("Or") {
            if condition(r, input)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(not) = rule.get("Not") {
        return Ok(!condition(not, input)?);
    }
    let variable = rule["Variable"].as_str().expect("Variable");
    let value = path_of(input, &Value::Null, variable).ok();
    let number = |v: &Value| v.as_f64();
    if let Some(present) = rule.get("IsPresent") {
        return Ok(value.is_some() == present.as_bool().expect("IsPresent"));
    }
    let Some(value) = value else {
        return Err(StateError::runtime(format!(
            "the choice's variable {variable} is missing"
        )));
    };
    Ok(if let Some(expected) = rule.get("IsString") {
        value.is_string() == expected.as_bool().expect("IsString")
    } else if let Some(expected) = rule.get("IsNumeric") {
        value.is_number() == expected.as_bool().expect("IsNumeric")
    } else if let Some(expected) = rule.get("BooleanEquals") {
        value.as_bool() == expected.as_bool()
    } else if let Some(expected) = rule.get("StringEquals") {
        value.as_str() == expected.as_str()
    } else if let Some(expected) = rule.get("NumericGreaterThan") {
        number(&value)
            .zip(number(expected))
            .is_some_and(|(a, b)| a > b)
    } else if let Some(expected) = rule.get("NumericGreaterThanEquals") {
        number(&value)
            .zip(number(expected))
            .is_some_and(|(a, b)| a >= b)
    } else if let Some(path) = rule.get("NumericGreaterThanEqualsPath") {
        let other = path_of(input, &Value::Null, path.as_str().expect("a path"))?;
        number(&value)
            .zip(number(&other))
            .is_some_and(|(a, b)| a >= b)
    } else {
        panic!("the twin interpreter lacks this comparison: {rule}")
    })
}

//! An execution's history, read the same way from AWS (aws-sdk-sfn's GetExecutionHistory)
//! and from the local emulator (moto's JSON): one event type, its details as JSON in the
//! API's own shape (`name`, `input`, `output`, `parameters`, `error`, `cause`).

use aws_smithy_types::DateTime;
use serde_json::{json, Map, Value};

/// One event of an execution's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: Option<u64>,
    pub timestamp: DateTime,
    /// `TaskStateEntered`, `TaskScheduled`, `TaskFailed`, `ExecutionSucceeded` ...
    pub event_type: String,
    /// The event's `...EventDetails` object (Null when it has none).
    pub details: Value,
}

/// The event types that end an execution.
const END_EVENTS: [&str; 4] = [
    "ExecutionSucceeded",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "ExecutionAborted",
];

impl HistoryEvent {
    /// One event as GetExecutionHistory's JSON spells it (`{"id": 1, "type": ...,
    /// "timestamp": 1.7e9, "stateEnteredEventDetails": {...}}`).
    pub fn from_json(event: &Value) -> HistoryEvent {
        let details = event
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.ends_with("EventDetails"))
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or(Value::Null);
        HistoryEvent {
            id: event["id"].as_u64().unwrap_or(0),
            previous_event_id: event["previousEventId"].as_u64(),
            timestamp: DateTime::from_secs_f64(event["timestamp"].as_f64().unwrap_or(0.0)),
            event_type: event["type"].as_str().unwrap_or_default().to_owned(),
            details,
        }
    }

    /// One event as aws-sdk-sfn returns it, with the details zonehop reads.
    pub fn from_sdk(event: &aws_sdk_sfn::types::HistoryEvent) -> HistoryEvent {
        let mut d = Map::new();
        let mut put = |key: &str, value: Option<&str>| {
            if let Some(value) = value {
                d.insert(key.to_owned(), json!(value));
            }
        };
        if let Some(e) = event.state_entered_event_details() {
            put("name", Some(e.name()));
            put("input", e.input());
        }
        if let Some(e) = event.state_exited_event_details() {
            put("name", Some(e.name()));
            put("output", e.output());
        }
        if let Some(e) = event.task_scheduled_event_details() {
            put("resourceType", Some(e.resource_type()));
            put("resource", Some(e.resource()));
            put("parameters", Some(e.parameters()));
        }
        if let Some(e) = event.task_succeeded_event_details() {
            put("resource", Some(e.resource()));
            put("output", e.output());
        }
        if let Some(e) = event.task_failed_event_details() {
            put("error", e.error());
            put("cause", e.cause());
        }
        if let Some(e) = event.task_timed_out_event_details() {
            put("error", e.error());
            put("cause", e.cause());
        }
        if let Some(e) = event.lambda_function_scheduled_event_details() {
            put("resource", Some(e.resource()));
            put("input", e.input());
        }
        if let Some(e) = event.lambda_function_succeeded_event_details() {
            put("output", e.output());
        }
        if let Some(e) = event.lambda_function_failed_event_details() {
            put("error", e.error());
            put("cause", e.cause());
        }
        if let Some(e) = event.lambda_function_timed_out_event_details() {
            put("error", e.error());
            put("cause", e.cause());
        }
        if let Some(e) = event.execution_started_event_details() {
            put("input", e.input());
        }
        if let Some(e) = event.execution_succeeded_event_details() {
            put("output", e.output());
        }
        if let Some(e) = event.execution_failed_event_details() {
            put("error", e.error());
            put("cause", e.cause());
        }
        if let Some(e) = event.execution_aborted_event_details() {
            put("error", e.error());
            put("cause", e.cause());
        }
        if let Some(e) = event.execution_timed_out_event_details() {
            put("error", e.error());
            put("cause", e.cause());
        }
        if let Some(e) = event.map_run_failed_event_details() {
            put("error", e.error());
            put("cause", e.cause());
        }
        HistoryEvent {
            id: u64::try_from(event.id()).unwrap_or(0),
            previous_event_id: u64::try_from(event.previous_event_id())
                .ok()
                .filter(|id| *id > 0),
            timestamp: *event.timestamp(),
            event_type: event.r#type().as_str().to_owned(),
            details: if d.is_empty() {
                Value::Null
            } else {
                Value::Object(d)
            },
        }
    }

    /// The state's name, when this event enters a state (`PassStateEntered` ...).
    pub fn state_entered(&self) -> Option<&str> {
        self.event_type
            .ends_with("StateEntered")
            .then(|| self.details["name"].as_str())
            .flatten()
    }

    /// The state's name, when this event leaves a state.
    pub fn state_exited(&self) -> Option<&str> {
        self.event_type
            .ends_with("StateExited")
            .then(|| self.details["name"].as_str())
            .flatten()
    }

    /// True for the event that ends the execution.
    pub fn ends_execution(&self) -> bool {
        END_EVENTS.contains(&self.event_type.as_str())
    }

    /// True for a task attempt: a service integration or a Lambda ARN as the Resource.
    pub fn is_task_attempt(&self) -> bool {
        matches!(
            self.event_type.as_str(),
            "TaskScheduled" | "LambdaFunctionScheduled" | "ActivityScheduled"
        )
    }

    pub fn error(&self) -> Option<&str> {
        self.details["error"].as_str()
    }

    pub fn cause(&self) -> Option<&str> {
        self.details["cause"].as_str()
    }

    /// The event's output (state exit, task result, execution end), parsed.
    pub fn output(&self) -> Option<Value> {
        parse_json_text(&self.details["output"])
    }

    /// The event's input (execution start, state entered), parsed.
    pub fn input(&self) -> Option<Value> {
        parse_json_text(&self.details["input"])
    }

    /// The resolved Parameters of a `TaskScheduled` event, parsed: where a
    /// `.waitForTaskToken` task's token can be read (`/Payload/token` or wherever the ASL
    /// put `$$.Task.Token`).
    pub fn parameters(&self) -> Option<Value> {
        parse_json_text(&self.details["parameters"])
    }
}

fn parse_json_text(value: &Value) -> Option<Value> {
    value
        .as_str()
        .map(|s| serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned())))
}

/// One visit of a state, from the history: entered and (when it has) exited.
#[derive(Debug, Clone, PartialEq)]
pub struct StateVisit {
    pub name: String,
    /// `Task`, `Pass`, `Choice`, `Map` ...
    pub state_type: String,
    pub entered: DateTime,
    pub exited: Option<DateTime>,
}

/// The states an execution visited, in the order it entered them.
pub fn state_visits(history: &[HistoryEvent]) -> Vec<StateVisit> {
    let mut visits: Vec<StateVisit> = Vec::new();
    for event in history {
        if let Some(name) = event.state_entered() {
            visits.push(StateVisit {
                name: name.to_owned(),
                state_type: event.event_type.trim_end_matches("StateEntered").to_owned(),
                entered: event.timestamp,
                exited: None,
            });
        } else if let Some(name) = event.state_exited() {
            if let Some(open) = visits
                .iter_mut()
                .rev()
                .find(|v| v.name == name && v.exited.is_none())
            {
                open.exited = Some(event.timestamp);
            }
        }
    }
    visits
}

/// The execution's input (the request as started), from its first event.
pub fn execution_input(history: &[HistoryEvent]) -> Option<Value> {
    history
        .iter()
        .find(|e| e.event_type == "ExecutionStarted")
        .and_then(HistoryEvent::input)
}

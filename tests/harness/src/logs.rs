//! Checking the functions' logs of a run (`functions.log`: what `cargo lambda watch` and
//! every function binary wrote): every line a function wrote is one JSON object in the
//! step's span (`step`, `execution`, `domain`: zonehop::runtime::StepLog), and no line
//! carries a credential or a task token.
//!
//! `cargo lambda watch` interleaves its own lines (its tracing text, cargo's `Finished` and
//! `Running`): those are recognised and set aside; any other line that is not JSON is a
//! function's line that is not structured, and fails the check.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// What a log held, when it passed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogSummary {
    /// The functions' JSON lines.
    pub json_lines: usize,
    /// Lines of invocations of `domain` by the execution looked for, by step.
    pub lines_of_execution: BTreeMap<String, usize>,
    /// Lines of invocations of `domain` (any execution), by step.
    pub lines_of_domain: BTreeMap<String, usize>,
    /// CloudWatch embedded-metric lines (check-propagation's round metrics).
    pub metric_lines: usize,
}

/// What to look for.
#[derive(Debug, Clone)]
pub struct LogExpectations<'a> {
    /// The migrated domain and the execution's name.
    pub domain: &'a str,
    pub execution: &'a str,
    /// Strings that must never appear (secret keys, session tokens, task tokens).
    pub secrets: Vec<String>,
}

/// A line of cargo lambda watch or cargo itself (not a function's).
fn is_watch_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty()
        || ["INFO ", "WARN ", "ERROR ", "DEBUG ", "TRACE "]
            .iter()
            .any(|level| trimmed.starts_with(level) && line.starts_with(' '))
        || ["Finished `", "Running `", "Compiling ", "Blocking "]
            .iter()
            .any(|p| trimmed.starts_with(p))
}

/// The fields of every span of a tracing JSON line, merged (the innermost last).
fn span_fields(line: &Map<String, Value>) -> Map<String, Value> {
    let mut fields = Map::new();
    for span in line
        .get("spans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(line.get("span"))
    {
        if let Some(span) = span.as_object() {
            for (k, v) in span {
                fields.insert(k.clone(), v.clone());
            }
        }
    }
    fields
}

/// Patterns of AWS credentials: access key ids of users and of role sessions, and the
/// names under which secrets travel.
const CREDENTIAL_MARKERS: [&str; 6] = [
    "aws_secret_access_key",
    "secretaccesskey",
    "sessiontoken",
    "x-amz-security-token",
    "aws_session_token",
    "tasktoken",
];

fn access_key_id(line: &str) -> Option<&str> {
    line.match_indices("AKIA")
        .chain(line.match_indices("ASIA"))
        .map(|(i, _)| &line[i..line.len().min(i + 20)])
        .find(|id| {
            id.len() == 20
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
}

/// Checks a `functions.log`; every problem found, one line each, when it fails.
pub fn check_function_log(
    text: &str,
    expect: &LogExpectations<'_>,
) -> Result<LogSummary, Vec<String>> {
    let mut problems = Vec::new();
    let mut summary = LogSummary::default();
    for (n, line) in text.lines().enumerate() {
        let at = n + 1;
        let lower = line.to_ascii_lowercase();
        if let Some(secret) = expect
            .secrets
            .iter()
            .find(|s| !s.is_empty() && line.contains(s.as_str()))
        {
            problems.push(format!(
                "line {at}: carries a secret ({}...)",
                &secret[..secret.len().min(4)]
            ));
        }
        if let Some(marker) = CREDENTIAL_MARKERS.iter().find(|m| lower.contains(*m)) {
            problems.push(format!("line {at}: names a credential ({marker})"));
        }
        if let Some(id) = access_key_id(line) {
            problems.push(format!(
                "line {at}: carries an access key id {}...",
                &id[..8]
            ));
        }
        if !line.starts_with('{') {
            if !is_watch_line(line) {
                problems.push(format!(
                    "line {at}: a function line that is not JSON: {}",
                    line.chars().take(120).collect::<String>()
                ));
            }
            continue;
        }
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) else {
            problems.push(format!("line {at}: starts like JSON but does not parse"));
            continue;
        };
        summary.json_lines += 1;
        if object.contains_key("_aws") {
            // Embedded metric format: a document CloudWatch reads, keyed by Domain.
            summary.metric_lines += 1;
            if object.get("Domain").and_then(Value::as_str) != Some(expect.domain) {
                problems.push(format!(
                    "line {at}: a metric line without Domain {}",
                    expect.domain
                ));
            }
            continue;
        }
        let fields = span_fields(&object);
        let field = |key: &str| fields.get(key).and_then(Value::as_str).unwrap_or_default();
        if field("step").is_empty() {
            problems.push(format!("line {at}: no step: {line}"));
            continue;
        }
        let in_invocation = fields.contains_key("requestId")
            || object
                .get("fields")
                .and_then(|f| f["message"].as_str())
                .is_some_and(|m| m.starts_with("step "));
        if in_invocation && (field("execution").is_empty() || field("domain").is_empty()) {
            problems.push(format!(
                "line {at}: an invocation's line without execution or domain: {line}"
            ));
        }
        if field("domain") == expect.domain {
            *summary
                .lines_of_domain
                .entry(field("step").to_owned())
                .or_default() += 1;
        }
        if field("domain") == expect.domain && field("execution") == expect.execution {
            *summary
                .lines_of_execution
                .entry(field("step").to_owned())
                .or_default() += 1;
        }
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(problems)
    }
}

/// The steps whose Lambda task in `statemachine/migration.asl.json` passes the execution's id
/// (`executionId` in its Payload, or the whole state, which carries it): only those can log
/// the execution's name.
pub fn steps_passed_the_execution() -> BTreeSet<String> {
    let asl: Value = std::fs::read_to_string(crate::rehearsal::state_machine_file())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let mut steps = BTreeSet::new();
    let mut stack = vec![asl["States"].clone()];
    while let Some(Value::Object(states)) = stack.pop() {
        for state in states.values() {
            if let Some(inner) = state.pointer("/ItemProcessor/States") {
                stack.push(inner.clone());
            }
            let params = &state["Parameters"];
            let Some(function) = params["FunctionName"].as_str() else {
                continue;
            };
            let passes = params["Payload.$"].as_str() == Some("$")
                || params["Payload"].get("executionId.$").is_some();
            // `${PreflightFunctionArn}` -> preflight
            let name = function
                .trim_start_matches("${")
                .trim_end_matches("FunctionArn}")
                .chars()
                .fold(String::new(), |mut out, c| {
                    if c.is_ascii_uppercase() && !out.is_empty() {
                        out.push('-');
                    }
                    out.push(c.to_ascii_lowercase());
                    out
                });
            if passes {
                steps.insert(name);
            }
        }
    }
    steps
}

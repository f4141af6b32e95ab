//! `report.json` from an execution's history, and the page made of it (`report.html`,
//! `zonehop_report::render_html`). `zonehop report` writes them for an execution in AWS; the
//! rehearsal writes them for its execution in the emulator, adding what only it knows (the
//! answers it observed, the final zones, the projected production cost).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::cost::{deployed_memory, execution_cost};
use crate::history::{execution_input, state_visits, HistoryEvent};
use crate::progress::{short_cause, Progress};
use crate::OperatorError;

/// The execution's status from its history: the end event's, else `RUNNING`.
pub fn status(history: &[HistoryEvent]) -> &'static str {
    match history
        .iter()
        .rev()
        .find(|e| e.ends_execution())
        .map(|e| e.event_type.as_str())
    {
        Some("ExecutionSucceeded") => "SUCCEEDED",
        Some("ExecutionFailed") => "FAILED",
        Some("ExecutionTimedOut") => "TIMED_OUT",
        Some("ExecutionAborted") => "ABORTED",
        _ => "RUNNING",
    }
}

/// The report's `error`: the end event's error and cause, and whether the execution rolled
/// back (it visited `Rolled Back`); Null unless the execution failed.
pub fn error(history: &[HistoryEvent]) -> Value {
    let status = status(history);
    if matches!(status, "SUCCEEDED" | "RUNNING") {
        return Value::Null;
    }
    let end = history.iter().rev().find(|e| e.ends_execution());
    json!({
        "errorType": end.and_then(HistoryEvent::error).unwrap_or(status),
        "cause": end.and_then(HistoryEvent::cause).map(short_cause),
        "rolledBack": state_visits(history).iter().any(|v| v.name == "Rolled Back"),
    })
}

/// `report.json` of the execution `arn` from its history (a running one too: its last
/// phase is `RUNNING`): status, error, phases, verification, propagation (resolvers named
/// through `resolver_names`, else by address), cost, and from the request the domain, the
/// subdomains kept, the registrar and the zones.
pub fn from_history(
    arn: &str,
    history: &[HistoryEvent],
    resolver_names: &BTreeMap<String, &str>,
) -> (Value, Progress) {
    let mut progress = Progress::default();
    for event in history {
        progress.observe(event);
    }
    let mut report = progress.report(status(history), error(history), resolver_names);
    report["executionArn"] = json!(arn);
    report["cost"] = execution_cost(history, &deployed_memory());
    let input = execution_input(history).unwrap_or(Value::Null);
    report["domain"] = input["domain"].clone();
    report["keepInSource"] = input
        .get("keepInSource")
        .cloned()
        .unwrap_or_else(|| json!([]));
    report["registrar"] = input
        .pointer("/registrar/type")
        .cloned()
        .unwrap_or_else(|| json!("route53domains"));
    report["source"] = json!({
        "hostedZoneId": input.pointer("/source/hostedZoneId"),
        "roleArn": input.pointer("/source/roleArn"),
    });
    report["zones"] = json!({
        "source": input.pointer("/source/hostedZoneId"),
        "target": progress.target_zone_id,
    });
    if let Some(checklist) = progress
        .last_state
        .as_ref()
        .and_then(|s| s.pointer("/finalize/decommissionChecklist"))
    {
        report["decommissionChecklist"] = checklist.clone();
    }
    // finalize's last carry: what it copied, and from when an edit in the old zone stays there.
    if let Some(finalize) = progress.last_state.as_ref().and_then(|s| s.get("finalize")) {
        if let Some(until) = finalize.get("carriedUntil").and_then(Value::as_i64) {
            report["carriedUntil"] = json!(crate::progress::iso_secs(until));
        }
        if let Some(carry) = finalize.get("carry") {
            report["lastCarry"] = carry.clone();
        }
    }
    (report, progress)
}

/// Writes `report.json` and `report.html` into `dir`; returns their paths.
pub fn write(dir: &Path, report: &Value) -> Result<(PathBuf, PathBuf), OperatorError> {
    let io = |path: &Path, e: std::io::Error| OperatorError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let json_path = dir.join("report.json");
    let text = serde_json::to_string_pretty(report).unwrap_or_default();
    std::fs::write(&json_path, text).map_err(|e| io(&json_path, e))?;
    let html_path = dir.join("report.html");
    std::fs::write(&html_path, zonehop_report::render_html(report))
        .map_err(|e| io(&html_path, e))?;
    Ok((json_path, html_path))
}

/// The summary printed after an execution: phases, verification, propagation, cost, error.
pub fn summary_lines(report: &Value) -> Vec<String> {
    let mut out = vec![String::new(), "summary".to_owned()];
    for phase in report["phases"].as_array().into_iter().flatten() {
        out.push(format!(
            "  {:<22} {:<9} {} .. {}",
            phase["name"].as_str().unwrap_or("?"),
            phase["status"].as_str().unwrap_or("?"),
            phase["startedAt"].as_str().unwrap_or("?"),
            phase["endedAt"].as_str().unwrap_or("-")
        ));
    }
    let v = &report["verification"];
    if v["rrsetsCompared"].is_number() && v["differences"].as_array().is_none_or(Vec::is_empty) {
        out.push(format!(
            "  verification: {} RRsets answered alike by every old and new server",
            v["rrsetsCompared"]
        ));
    }
    if let Some(d) = v["differences"].as_array() {
        if !d.is_empty() {
            out.push(format!("  verification: {} difference(s):", d.len()));
            for difference in d.iter().take(10) {
                out.push(format!("    {difference}"));
            }
        }
    }
    let p = &report["propagation"];
    if p.is_object() {
        out.push(format!(
            "  propagation: parent switch seen {}, safe at {}, declared safe {} after {} rounds",
            p["parentSwitchSeenAt"].as_str().unwrap_or("never"),
            p["safeAt"].as_str().unwrap_or("never"),
            p["completedAt"].as_str().unwrap_or("never"),
            p["rounds"]
        ));
        for r in p["resolvers"].as_array().into_iter().flatten() {
            out.push(format!(
                "    {:<8} {:<4} moved at {}",
                r["name"].as_str().unwrap_or("?"),
                r["side"].as_str().unwrap_or("?"),
                r["movedAt"].as_str().unwrap_or("never")
            ));
        }
    }
    let c = &report["cost"];
    if c.is_object() {
        out.push(format!(
            "  in AWS this execution bills {} state transitions and {} Lambda invocations ({} GB-s): ${} (the propagation loop adds ~3 transitions a round)",
            c["stateTransitions"], c["lambdaInvocations"], c["lambdaGbSeconds"], c["usdAtAwsPrices"]
        ));
    }
    let p = &report["projectedProductionCost"];
    if p.is_object() {
        out.push(format!(
            "  the same migration in AWS (the parent's NS TTL {} s, not scaled): about {} h, {} propagation rounds, {} transitions, {} GB-s: ${} (plus $0.50 a month per hosted zone)",
            p["parentNsTtl"], p["windowHours"], p["propagationRounds"], p["stateTransitions"], p["lambdaGbSeconds"], p["usdAtAwsPrices"]
        ));
    }
    out
}

/// The lines that close a summary: how a failed execution ended.
pub fn failure_lines(status: &str, error: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if !matches!(status, "SUCCEEDED" | "RUNNING") {
        out.push(format!(
            "  {status} with {}: {}",
            error["errorType"].as_str().unwrap_or("?"),
            error["cause"].as_str().unwrap_or("")
        ));
        if error["rolledBack"] == true {
            out.push(
                "  rolled back: the registration and the old apex NS point at the old zone again"
                    .to_owned(),
            );
        }
    }
    out
}

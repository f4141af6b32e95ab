//! The history readers' unit tests: phases, rounds, the report, the cost.

use std::collections::BTreeMap;

use aws_smithy_types::DateTime;
use serde_json::{json, Value};

use crate::cost::*;
use crate::history::HistoryEvent;
use crate::progress::*;

fn event(id: u64, at: f64, kind: &str, details: Value) -> HistoryEvent {
    HistoryEvent {
        id,
        previous_event_id: None,
        timestamp: DateTime::from_secs_f64(at),
        event_type: kind.to_owned(),
        details,
    }
}

fn entered(id: u64, at: f64, name: &str) -> HistoryEvent {
    event(id, at, "TaskStateEntered", json!({ "name": name }))
}

fn exited(id: u64, at: f64, name: &str, output: Value) -> HistoryEvent {
    event(
        id,
        at,
        "TaskStateExited",
        json!({ "name": name, "output": output.to_string() }),
    )
}

#[test]
fn phases_run_from_one_announcement_to_the_next_and_a_failure_marks_the_last() {
    let mut progress = Progress::default();
    let history = [
        entered(1, 100.0, "Announce Preflight"),
        entered(2, 101.0, "Announce Create Zone"),
        event(
            3,
            102.0,
            "LambdaFunctionFailed",
            json!({"error": "Throttled", "cause": "{\"errorType\":\"Throttled\",\"errorMessage\":\"slow down\"}"}),
        ),
        entered(4, 103.0, "Announce Sync Records"),
        entered(5, 105.0, "Announce Failed"),
        event(6, 106.0, "ExecutionFailed", json!({"error": "Throttled"})),
    ];
    let lines: Vec<String> = history.iter().flat_map(|e| progress.observe(e)).collect();
    let names: Vec<&str> = progress.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["preflight", "create-zone", "sync-records"]);
    assert_eq!(
        progress.phases[1].ended,
        Some(DateTime::from_secs_f64(103.0))
    );
    assert!(!progress.phases[1].failed);
    assert!(progress.phases[2].failed, "the phase before Failed failed");
    assert!(
        lines.iter().any(|l| l == "  ✗ Throttled: slow down"),
        "{lines:?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("■ failed"));
}

#[test]
fn the_deployed_memory_is_read_for_every_function_from_the_template() {
    let memory = deployed_memory();
    for function in zonehop::core::access::FUNCTION_NAMES {
        assert!(
            memory.get(function).is_some_and(|mb| *mb >= 128),
            "{function}: {memory:?}"
        );
    }
}

#[test]
fn cost_counts_transitions_retries_and_lambda_time_at_deployed_memory() {
    let scheduled = |id, at, function: &str| {
        event(
            id,
            at,
            "TaskScheduled",
            json!({ "parameters": json!({ "FunctionName": format!("arn:aws:lambda:us-east-1:1:function:{function}") }).to_string() }),
        )
    };
    let history = [
        entered(1, 0.0, "Sync Records"),
        scheduled(2, 0.0, "sync-records"),
        event(3, 1.0, "TaskFailed", json!({ "error": "Throttled" })),
        scheduled(4, 2.0, "sync-records"),
        event(5, 4.0, "TaskSucceeded", json!({})),
        event(6, 4.0, "PassStateEntered", json!({ "name": "Next" })),
    ];
    let memory = BTreeMap::from([("sync-records".to_owned(), 512)]);
    let cost = execution_cost(&history, &memory);
    // 2 states entered + 1 retry; 3 s of Lambda at 0.5 GB.
    assert_eq!(cost["stateTransitions"], 3);
    assert_eq!(cost["lambdaInvocations"], 2);
    assert_eq!(cost["lambdaGbSeconds"], 1.5);
    let usd = 3.0 * USD_PER_TRANSITION + 1.5 * USD_PER_GB_SECOND_ARM64;
    assert!((cost["usdAtAwsPrices"].as_f64().expect("usd") - usd).abs() < 1e-6);
}

#[test]
fn a_production_window_replaces_the_rehearsed_rounds() {
    let executed = json!({
        "stateTransitions": 70, "lambdaGbSeconds": 3.0,
        "byFunction": { "check-propagation": { "invocations": 4, "gbSeconds": 1.0 } },
    });
    let projected = projected_cost(&executed, 3_600, 172_800);
    let rounds = projected["propagationRounds"].as_f64().expect("rounds");
    // 2 days and an hour at most an hour apart: at least 50 rounds, far below the cap.
    assert!((50.0..200.0).contains(&rounds), "{projected}");
    assert!(
        projected["windowHours"].as_f64() >= Some(49.0),
        "{projected}"
    );
    assert_eq!(
        projected["stateTransitions"].as_f64(),
        Some(70.0 + 3.0 * (rounds - 4.0))
    );
    assert!(projected["stateTransitions"].is_u64());
    let gb = projected["lambdaGbSeconds"].as_f64().expect("gb");
    assert!((gb - (2.0 + 0.25 * rounds)).abs() < 0.01, "{projected}");
}

#[test]
fn a_state_that_failed_into_a_catch_shows_no_result() {
    let mut progress = Progress::default();
    let caught = json!({ "domain": "example.com", "error": { "Error": "MigrationBlocked" } });
    assert!(progress
        .observe(&exited(1, 1.0, "Preflight", caught))
        .is_empty());
    let lines = progress.observe(&exited(
        2,
        2.0,
        "Preflight",
        json!({ "preflight": { "sourceRecords": 14, "recordsToMove": 9, "keptInSource": [] } }),
    ));
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("14 record sets"), "{lines:?}");
}

#[test]
fn the_report_names_resolvers_and_completes_at_the_first_safe_round() {
    let mut progress = Progress::default();
    let round = |safe: bool, checked: i64, kresd: &str| {
        json!({ "propagation": {
            "safe": safe, "safeAt": 1_000, "parentSwitchSeenAt": 990, "checkedAt": checked,
            "nextWaitSeconds": 2, "parentOnNew": 2, "parentTotal": 2, "resolversOnNew": 1,
            "resolversTotal": 1,
            "resolvers": [
                { "resolver": "127.9.0.2:53", "side": "new", "movedAt": 995 },
                { "resolver": "127.9.0.3:53", "side": kresd },
            ],
        }})
    };
    progress.observe(&entered(1, 990.0, "Announce Check Propagation"));
    progress.observe(&exited(
        2,
        998.0,
        "Check Propagation",
        round(false, 998, "old"),
    ));
    progress.observe(&exited(
        3,
        1001.0,
        "Check Propagation",
        round(true, 1_001, "new"),
    ));
    let names = BTreeMap::from([("127.9.0.2:53".to_owned(), "unbound")]);
    let report = progress.report("SUCCEEDED", Value::Null, &names);
    let p = &report["propagation"];
    assert_eq!(p["safeAt"], "1970-01-01T00:16:40Z");
    assert_eq!(p["completedAt"], "1970-01-01T00:16:41Z");
    assert_eq!(p["rounds"], 2);
    assert_eq!(p["resolvers"][0]["name"], "unbound");
    assert_eq!(p["resolvers"][0]["movedAt"], "1970-01-01T00:16:35Z");
    // One entry a round; the resolvers counted from the list, whatever resolversOnNew says.
    assert_eq!(
        p["timeline"],
        json!([
            { "at": "1970-01-01T00:16:38Z", "parentOnNew": 2, "parentTotal": 2,
              "resolversOnNew": 1, "resolversTotal": 2, "safe": false },
            { "at": "1970-01-01T00:16:41Z", "parentOnNew": 2, "parentTotal": 2,
              "resolversOnNew": 2, "resolversTotal": 2, "safe": true },
        ])
    );
    assert_eq!(report["phases"][0]["status"], "RUNNING");
}

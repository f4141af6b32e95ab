//! The state machine and the code agree: every function task retries exactly the
//! errorTypes the library calls transient, and names only functions that exist.

use std::collections::BTreeSet;

use serde_json::Value;
use zonehop::error::TRANSIENT_ERROR_TYPES;

fn definition() -> Value {
    let path = zonehop_tests::repo_root().join("statemachine/migration.asl.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the ASL file"))
        .expect("ASL is JSON")
}

/// Every state, Map iterations included.
fn states(definition: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut pending = vec![definition["States"].clone()];
    while let Some(block) = pending.pop() {
        for (name, state) in block.as_object().into_iter().flatten() {
            for inner in ["ItemProcessor", "Iterator"] {
                if let Some(nested) = state.get(inner).and_then(|p| p.get("States")) {
                    pending.push(nested.clone());
                }
            }
            out.push((name.clone(), state.clone()));
        }
    }
    out
}

fn function_tasks(definition: &Value) -> Vec<(String, Value)> {
    states(definition)
        .into_iter()
        .filter(|(_, s)| {
            s["Resource"]
                .as_str()
                .is_some_and(|r| r.starts_with("arn:aws:states:::lambda:invoke"))
        })
        .collect()
}

#[test]
fn every_function_task_retries_exactly_the_transient_error_types() {
    let definition = definition();
    let tasks = function_tasks(&definition);
    assert!(tasks.len() >= 11, "{} function tasks", tasks.len());
    let transient: BTreeSet<&str> = TRANSIENT_ERROR_TYPES.into_iter().collect();
    for (name, task) in tasks {
        let retried: Vec<BTreeSet<&str>> = task["Retry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                r["ErrorEquals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect()
            })
            .collect();
        assert!(
            retried.contains(&transient),
            "{name} does not retry exactly {transient:?}: {retried:?}"
        );
        assert!(
            retried
                .iter()
                .all(|set| set.is_disjoint(&BTreeSet::from(["States.ALL"]))),
            "{name} retries States.ALL: permanent errors would be retried"
        );
    }
}

#[test]
fn every_function_the_state_machine_invokes_is_a_function_of_the_workspace() {
    let definition = definition();
    let placeholders: BTreeSet<String> = function_tasks(&definition)
        .into_iter()
        .filter_map(|(_, t)| t["Parameters"]["FunctionName"].as_str().map(str::to_owned))
        .collect();
    let root = zonehop_tests::repo_root().join("functions");
    for placeholder in placeholders {
        // ${CreateZoneFunctionArn} -> create-zone
        let camel = placeholder
            .trim_start_matches("${")
            .trim_end_matches("FunctionArn}");
        let mut kebab = String::new();
        for (i, c) in camel.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        }
        assert!(
            root.join(&kebab).join("Cargo.toml").exists(),
            "{placeholder}: no crate functions/{kebab}"
        );
    }
}

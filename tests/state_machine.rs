//! The state machine and the code agree: every function task retries exactly the
//! errorTypes the library calls transient, and names only functions that exist.

use std::collections::BTreeSet;

use serde_json::Value;
use zonehop::error::TRANSIENT_ERROR_TYPES;

fn definition() -> Value {
    let path = zonehop_world::repo_root().join("statemachine/migration.asl.json");
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
fn one_list_of_the_twelve_functions_is_the_folders_the_template_and_the_asl() {
    let listed: BTreeSet<String> = zonehop::core::access::FUNCTION_NAMES
        .iter()
        .map(|f| (*f).to_owned())
        .collect();
    assert_eq!(listed.len(), 12, "{listed:?}");
    // The folders under functions/ (what the Makefile builds), less the two libraries.
    let root = zonehop_world::repo_root();
    let folders: BTreeSet<String> = std::fs::read_dir(root.join("functions"))
        .expect("functions/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("src/main.rs").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders, listed, "functions/ and FUNCTION_NAMES");
    // The template's functions, by the binary each is built from.
    let template = std::fs::read_to_string(root.join("infra/template.yaml")).expect("template");
    let binaries: BTreeSet<String> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Binary: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        binaries, listed,
        "the template's functions and FUNCTION_NAMES"
    );
    // The migration state machine's tasks invoke each of them (the Makefile's FUNCTIONS is
    // the folders: `make -pn | grep ^FUNCTIONS` shows it).
    let invoked: BTreeSet<String> = function_tasks(&definition())
        .into_iter()
        .filter_map(|(_, t)| t["Parameters"]["FunctionName"].as_str().map(kebab))
        .collect();
    assert_eq!(invoked, listed, "the ASL's tasks and FUNCTION_NAMES");
}

/// `${CreateZoneFunctionArn}` -> `create-zone`; a placeholder of no function stays as it is
/// (so that the comparisons below name it).
fn kebab(placeholder: &str) -> String {
    zonehop::core::access::Work::of_arn_placeholder(placeholder).map_or_else(
        || placeholder.to_owned(),
        |work| work.function_name().to_owned(),
    )
}

#[test]
fn every_function_the_state_machine_invokes_is_a_function_of_the_workspace() {
    let definition = definition();
    let placeholders: BTreeSet<String> = function_tasks(&definition)
        .into_iter()
        .filter_map(|(_, t)| t["Parameters"]["FunctionName"].as_str().map(str::to_owned))
        .collect();
    let root = zonehop_world::repo_root().join("functions");
    for placeholder in placeholders {
        let kebab = kebab(&placeholder);
        assert!(
            root.join(&kebab).join("Cargo.toml").exists(),
            "{placeholder}: no crate functions/{kebab}"
        );
    }
}

/// The states reachable from `start` through Next, Default, Choices and Catch.
fn reachable(definition: &Value, start: &str) -> BTreeSet<String> {
    let states = &definition["States"];
    let mut seen = BTreeSet::new();
    let mut pending = vec![start.to_owned()];
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let state = &states[&name];
        let mut next: Vec<&Value> = vec![&state["Next"], &state["Default"]];
        for list in ["Choices", "Catch"] {
            next.extend(
                state[list]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| &c["Next"]),
            );
        }
        pending.extend(
            next.into_iter()
                .filter_map(Value::as_str)
                .map(str::to_owned),
        );
    }
    seen
}

/// Invariant 7: a fault never undoes a healthy migration. Once check-propagation has declared
/// the old side safe to retire, no failure leads to the rollback.
#[test]
fn invariant_7_after_safe_no_path_leads_to_rollback() {
    let definition = definition();
    let after_safe = reachable(&definition, "Cutover Requested?");
    assert!(after_safe.contains("Finalize"), "{after_safe:?}");
    assert!(after_safe.contains("Failed After Safe"), "{after_safe:?}");
    assert!(
        !after_safe.contains("Rollback"),
        "a failure after safe reaches Rollback: {after_safe:?}"
    );
    // Once the swap has started, a real failure still rolls back.
    assert!(reachable(&definition, "Swap Nameservers").contains("Rollback"));
}

/// Issue #21: once the parent is seen delegating to the new servers, only proof that they
/// answer wrongly (NewServersWrong; ParentDidNotSwitch is the proof that it never did) rolls
/// back; the round cap and any other error of the window end with the registration on the
/// new side.
#[test]
fn after_the_parent_switched_only_a_lying_new_server_rolls_back() {
    let definition = definition();
    let states = &definition["States"];
    for catcher in states["Check Propagation"]["Catch"]
        .as_array()
        .expect("catchers")
    {
        if catcher["Next"] == "Announce Rolling Back" {
            for error in catcher["ErrorEquals"].as_array().expect("errors") {
                assert!(
                    error == "NewServersWrong" || error == "ParentDidNotSwitch",
                    "check-propagation's {error} goes straight to the rollback"
                );
            }
        } else {
            assert_eq!(catcher["Next"], "Parent Switched?", "{catcher}");
        }
    }
    assert_eq!(
        states["Propagation Did Not Converge"]["Next"],
        "Parent Switched?"
    );
    let choice = &states["Parent Switched?"];
    assert_eq!(choice["Default"], "Announce Rolling Back");
    assert_eq!(
        choice["Choices"][0]["Next"], "Announce Failed After Switch",
        "{choice}"
    );
    let after_switch = reachable(&definition, "Announce Failed After Switch");
    assert!(after_switch.contains("Failed After Switch"));
    assert!(!after_switch.contains("Rollback"), "{after_switch:?}");
}

/// A Lambda that times out or runs out of memory fails as `Lambda.Unknown`; every function is
/// idempotent (invariant 3), so the state machine retries it like Lambda's own service errors.
#[test]
fn every_function_task_retries_lambda_timeouts_and_service_errors() {
    let definition = definition();
    for (name, task) in function_tasks(&definition) {
        let retried: BTreeSet<&str> = task["Retry"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["ErrorEquals"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        for error in [
            "Lambda.ServiceException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "Lambda.Unknown",
            "Lambda.AWSLambdaException",
            "Lambda.ClientExecutionTimeoutException",
        ] {
            assert!(retried.contains(error), "{name} does not retry {error}");
        }
    }
}

/// States.ALL does not catch States.DataLimitExceeded or States.Runtime (Step Functions'
/// error-handling reference): every catcher that routes a failure names them too, so an
/// oversized state ends like any other failure instead of skipping the rollback.
#[test]
fn every_failure_route_also_catches_the_terminal_errors() {
    let definition = definition();
    for (name, state) in states(&definition) {
        let catchers: Vec<&Value> = state["Catch"].as_array().into_iter().flatten().collect();
        let routes: BTreeSet<&str> = catchers
            .iter()
            .filter(|c| c["ErrorEquals"] == serde_json::json!(["States.ALL"]))
            .filter_map(|c| c["Next"].as_str())
            .filter(|next| {
                [
                    "Announce Failed",
                    "Announce Rolling Back",
                    "Announce Failed After Safe",
                    "Parent Switched?",
                ]
                .contains(next)
            })
            .collect();
        for route in routes {
            assert!(
                catchers.iter().any(|c| c["Next"] == route
                    && c["ErrorEquals"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|x| x == "States.DataLimitExceeded"))),
                "{name}: the route to {route} does not catch States.DataLimitExceeded"
            );
        }
    }
}

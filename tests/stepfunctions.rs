//! State machines in moto's Step Functions interpreter, their Lambda tasks served by the real
//! function binaries through `cargo lambda watch` (tests/src/stepfunctions.rs): the same ASL
//! and the same binaries a rehearsal runs.
//!
//!     scripts/in-netns cargo test -p zonehop-tests --test stepfunctions --offline

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use zonehop::core::plan::is_apex_soa_or_ns;
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::Name;
use zonehop_world::stepfunctions::{Execution, ExecutionStatus, LocalStepFunctions};
use zonehop_world::{route53_in, seed_zone, source_access, target_access, zonegen};

/// Long enough for an execution of a few tasks; builds happen in the warm-up, not here.
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(120);

fn domain() -> Name {
    Name::parse("example.com").expect("name")
}

fn asl(name: &str) -> PathBuf {
    zonehop_world::repo_root().join(format!("tests/statemachine/{name}.asl.json"))
}

/// GIVEN moto with its interpreter on, `cargo lambda watch` serving `functions`, those
/// functions registered in moto and built.
async fn world(functions: &[&str], test: &str) -> LocalStepFunctions {
    let log = std::env::temp_dir().join(format!(
        "zonehop-stepfunctions-{test}-{}.log",
        std::process::id()
    ));
    let world = LocalStepFunctions::start(functions, &log).await;
    let warm_up = tokio::time::timeout(Duration::from_secs(900), world.warm_up())
        .await
        .expect("cargo lambda watch builds the functions");
    eprintln!(
        "{test}: functions built and answering after {warm_up:.1?} (log {})",
        log.display()
    );
    world
}

fn access(role: &zonehop::core::request::AccountAccess, zone_id: Option<&str>) -> Value {
    json!({ "hostedZoneId": zone_id, "roleArn": role.role_arn, "externalId": role.external_id })
}

/// The request for a domain whose target zone is still to be created.
fn request(domain: &str, source_id: Option<&str>) -> Value {
    json!({
        "domain": domain,
        "source": access(&source_access(), source_id),
        "target": access(&target_access(), None),
        "keepInSource": [],
    })
}

fn explain(execution: &Execution) -> String {
    format!(
        "{} error={:?} cause={:?} output={:?}\n{}",
        execution.status,
        execution.error,
        execution.cause,
        execution.output,
        execution.history_text()
    )
}

#[tokio::test]
async fn create_and_sync_runs_the_real_functions_and_creates_the_target_zone() {
    let world = world(&["create-zone", "sync-records"], "create-and-sync").await;
    let base = world.moto.config().await;
    let records = zonegen::every_kind(&domain(), "SOURCE", 1);
    let source_id = seed_zone(&base, &source_access(), &domain(), &records).await;

    // WHEN the state machine runs create-zone, then sync-records as a dry run
    let machine = world
        .sfn
        .create_state_machine_from_file(
            "create-and-sync",
            &asl("create-and-sync"),
            &world.substitutions(&[]),
        )
        .await
        .expect("state machine");
    let arn = world
        .sfn
        .start_execution(
            &machine,
            "example-com-1",
            &request("example.com", Some(&source_id)),
        )
        .await
        .expect("started");
    let mut seen_live = Vec::new();
    let execution = world
        .sfn
        .follow(&arn, EXECUTION_TIMEOUT, |event| {
            if let Some(state) = event.state_entered() {
                eprintln!("create-and-sync: entered {state}");
                seen_live.push(state.to_owned());
            }
        })
        .await
        .expect("the execution runs");

    // THEN it succeeds through both tasks, once each, as followed while it ran
    assert!(execution.succeeded(), "{}", explain(&execution));
    assert_eq!(execution.state_names(), ["CreateZone", "SyncRecordsDryRun"]);
    assert_eq!(seen_live, execution.state_names());
    assert_eq!(execution.task_attempts("CreateZone"), 1);
    assert_eq!(execution.task_attempts("SyncRecordsDryRun"), 1);
    let output = execution.output.clone().expect("output");
    let target_id = output["targetZone"]["hostedZoneId"]
        .as_str()
        .expect("the target zone's id")
        .to_owned();
    assert_eq!(output["targetZone"]["created"], true);

    // AND the zone exists in the target account, with the name servers create-zone returned
    let target = route53_in(&base, &target_access()).await;
    let zones = target.zones_named(&domain()).await.expect("list zones");
    assert_eq!(zones.len(), 1, "{zones:?}");
    assert_eq!(zones[0].id, target_id);
    let name_servers = output["targetZone"]["nameServers"]
        .as_array()
        .expect("name servers");
    assert_eq!(name_servers.len(), 4);

    // AND the dry run planned every source record and wrote none
    assert_eq!(output["plan"]["dryRun"], true);
    assert_eq!(output["plan"]["targetZoneId"], target_id.as_str());
    assert_eq!(output["plan"]["creates"], records.len());
    let target_zone = read_zone(&target, &target_id)
        .await
        .expect("read the target zone");
    assert!(
        target_zone.iter().all(|r| is_apex_soa_or_ns(r, &domain())),
        "a dry run wrote records"
    );

    let visits = execution.states();
    let took = |i: usize| {
        let v = &visits[i];
        v.exited
            .map(|x| x.as_secs_f64() - v.entered.as_secs_f64())
            .unwrap_or(f64::NAN)
    };
    eprintln!(
        "create-and-sync: execution start to end {:.3?} (CreateZone {:.3} s, SyncRecordsDryRun {:.3} s, {} source records)",
        execution.duration().expect("start and stop dates"),
        took(0),
        took(1),
        records.len()
    );
}

#[tokio::test]
async fn a_function_error_type_is_caught_by_name_and_not_retried_by_another() {
    let world = world(&["create-zone"], "catch").await;

    // WHEN create-zone gets a top-level domain: InvalidRequest; Retry names Throttled only
    let execution = world
        .run(
            &asl("create-zone-catch"),
            &[],
            "bad-domain-1",
            &request("com", None),
            EXECUTION_TIMEOUT,
        )
        .await
        .expect("the execution runs");

    // THEN the Catch on InvalidRequest routes to the Pass state and the execution succeeds
    assert!(execution.succeeded(), "{}", explain(&execution));
    assert_eq!(execution.state_names(), ["CreateZone", "RequestRejected"]);
    // AND the task ran exactly once: no retry on an error the Retry does not name
    assert_eq!(execution.task_attempts("CreateZone"), 1);
    let failed = execution.events("TaskFailed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error(), Some("InvalidRequest"));
    let output = execution.output.clone().expect("output");
    assert_eq!(output["rejected"], true);
    assert_eq!(output["error"], "InvalidRequest");
    // The cause is the function's {errorType, errorMessage}, as Lambda reports it.
    let cause: Value =
        serde_json::from_str(output["cause"].as_str().expect("cause")).expect("cause is JSON");
    assert_eq!(cause["errorType"], "InvalidRequest");
    assert!(
        cause["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("top-level domain")),
        "{cause}"
    );
}

#[tokio::test]
async fn a_function_error_type_without_a_catch_fails_the_execution_with_that_error() {
    let world = world(&["create-zone"], "uncaught").await;

    let execution = world
        .run(
            &asl("create-zone-uncaught"),
            &[],
            "bad-domain-1",
            &request("com", None),
            EXECUTION_TIMEOUT,
        )
        .await
        .expect("the execution runs");

    assert_eq!(
        execution.status,
        ExecutionStatus::Failed,
        "{}",
        explain(&execution)
    );
    assert_eq!(execution.error.as_deref(), Some("InvalidRequest"));
    assert!(
        execution
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("top-level domain")),
        "{}",
        explain(&execution)
    );
    assert_eq!(execution.task_attempts("CreateZone"), 1);
    assert_eq!(execution.events("ExecutionFailed").len(), 1);
}

#[tokio::test]
async fn a_wait_for_task_token_step_resumes_with_the_operators_answer() {
    let world = world(&["create-zone"], "task-token").await;
    let machine = world
        .sfn
        .create_state_machine_from_file(
            "manual-swap-token",
            &asl("manual-swap-token"),
            &world.substitutions(&[("EventBusName", "default")]),
        )
        .await
        .expect("state machine");
    let execution = world
        .sfn
        .start_execution(&machine, "manual-1", &request("example.com", None))
        .await
        .expect("started");

    // WHEN the step has published the name servers to set, with its token
    let token_at = "/Entries/0/Detail/taskToken";
    let scheduled = world
        .sfn
        .wait_for_event(&execution, EXECUTION_TIMEOUT, |e| {
            e.event_type == "TaskScheduled"
                && e.parameters()
                    .is_some_and(|p| p.pointer(token_at).is_some())
        })
        .await
        .expect("the token task is scheduled");
    let published = scheduled.parameters().expect("parameters");
    let token = published
        .pointer(token_at)
        .and_then(Value::as_str)
        .expect("token")
        .to_owned();
    assert_eq!(
        published
            .pointer("/Entries/0/Detail/nameServers")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(4),
        "{published}"
    );
    // An unknown token is refused as Step Functions refuses it.
    let refused = world
        .sfn
        .send_task_success("not-a-token", &json!({}))
        .await
        .expect_err("unknown token");
    assert_eq!(refused.code(), Some("InvalidToken"), "{refused}");
    let running = world
        .sfn
        .describe_execution(&execution)
        .await
        .expect("described");
    assert_eq!(running.status, ExecutionStatus::Running);

    // AND the operator answers
    world
        .sfn
        .send_task_success(&token, &json!({ "nameServersSet": true }))
        .await
        .expect("task success accepted");

    // THEN the execution ends with the answer as the step's result
    let done = world
        .sfn
        .wait_for_end(&execution, EXECUTION_TIMEOUT)
        .await
        .expect("ends");
    assert!(done.succeeded(), "{}", explain(&done));
    assert_eq!(
        done.output.clone().expect("output")["operator"],
        json!({ "nameServersSet": true })
    );
    assert_eq!(done.state_names(), ["CreateZone", "WaitForOperator"]);
}

#[tokio::test]
async fn an_execution_whose_output_holds_a_timestamp_is_read_from_its_history() {
    // moto 5.2.5's DescribeExecution answers HTTP 500 once an output holds a timestamp
    // (docs/local-world.md); the ASL should drop such fields with a ResultSelector, and the
    // harness still reports such an execution rather than failing on it.
    let world = world(&[], "timestamp").await;
    let execution = world
        .run(
            &asl("sdk-timestamp-output"),
            &[],
            "timestamp-1",
            &json!({ "domain": "timestamp.example" }),
            EXECUTION_TIMEOUT,
        )
        .await
        .expect("the execution is read");

    assert!(execution.succeeded(), "{}", explain(&execution));
    assert!(
        execution.describe_error.is_some(),
        "DescribeExecution answered: moto may be fixed, and the fallback no longer needed"
    );
    let output = execution.output.clone().expect("output from the history");
    assert!(output["ChangeInfo"]["SubmittedAt"].is_string(), "{output}");
    assert!(execution.duration().is_some());
}

/// Starts the manual-swap state machine and returns the execution's ARN and its task token.
async fn started_manual_swap(world: &LocalStepFunctions, execution: &str) -> (String, String) {
    let machine = world
        .sfn
        .create_state_machine_from_file(
            "manual-swap-token",
            &asl("manual-swap-token"),
            &world.substitutions(&[("EventBusName", "default")]),
        )
        .await
        .expect("state machine");
    let arn = world
        .sfn
        .start_execution(&machine, execution, &request("example.com", None))
        .await
        .expect("started");
    let token_at = "/Entries/0/Detail/taskToken";
    let scheduled = world
        .sfn
        .wait_for_event(&arn, EXECUTION_TIMEOUT, |e| {
            e.parameters()
                .is_some_and(|p| p.pointer(token_at).is_some())
        })
        .await
        .expect("the token task is scheduled");
    let token = scheduled
        .parameters()
        .and_then(|p| {
            p.pointer(token_at)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .expect("token");
    (arn, token)
}

#[tokio::test]
async fn a_wait_for_task_token_step_fails_with_the_error_the_operator_sends() {
    let world = world(&["create-zone"], "task-failure").await;
    let (arn, token) = started_manual_swap(&world, "manual-refused").await;

    world
        .sfn
        .send_task_failure(
            &token,
            "RegistrarRefused",
            "the registrar rejected the name servers",
        )
        .await
        .expect("task failure accepted");

    let done = world
        .sfn
        .wait_for_end(&arn, EXECUTION_TIMEOUT)
        .await
        .expect("ends");
    assert_eq!(done.status, ExecutionStatus::Failed, "{}", explain(&done));
    assert_eq!(done.error.as_deref(), Some("RegistrarRefused"));
}

#[tokio::test]
async fn a_wait_takes_its_seconds_from_the_input_and_a_stopped_execution_is_aborted() {
    let world = world(&["create-zone"], "wait-stop").await;
    let machine = world
        .sfn
        .create_state_machine_from_file(
            "wait-then-create",
            &asl("wait-then-create"),
            &world.substitutions(&[]),
        )
        .await
        .expect("state machine");
    let mut input = request("example.com", None);

    // A Wait of 1 s (SecondsPath) really waits, then the task runs.
    input["waitSeconds"] = json!(1);
    let short = world
        .sfn
        .start_execution(&machine, "wait-1s", &input)
        .await
        .expect("started");
    let done = world
        .sfn
        .wait_for_end(&short, EXECUTION_TIMEOUT)
        .await
        .expect("ends");
    assert!(done.succeeded(), "{}", explain(&done));
    let waited = &done.states()[0];
    let seconds = waited.exited.expect("exited").as_secs_f64() - waited.entered.as_secs_f64();
    assert!((1.0..2.0).contains(&seconds), "waited {seconds} s");

    // A Wait of an hour is stopped: ABORTED at once, the task never runs. (moto 5.2.5 does
    // not stop a task waiting on a token: it runs on until answered or timed out.)
    input["waitSeconds"] = json!(3600);
    let long = world
        .sfn
        .start_execution(&machine, "wait-1h", &input)
        .await
        .expect("started");
    world
        .sfn
        .wait_for_event(&long, EXECUTION_TIMEOUT, |e| {
            e.state_entered() == Some("WaitOut")
        })
        .await
        .expect("waiting");
    world.sfn.stop_execution(&long).await.expect("stopped");
    let stopped = world
        .sfn
        .wait_for_end(&long, Duration::from_secs(10))
        .await
        .expect("ends at once");
    assert_eq!(
        stopped.status,
        ExecutionStatus::Aborted,
        "{}",
        explain(&stopped)
    );
    assert_eq!(stopped.task_attempts("CreateZone"), 0);
}

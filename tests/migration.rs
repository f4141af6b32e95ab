//! The migration state machine itself (statemachine/migration.asl.json) in moto's Step
//! Functions interpreter, every task served by the real function binaries through
//! `cargo lambda watch`, against moto and the local DNS world.
//!
//! The dry run, verify-zones finding a difference, a failure after the swap (rolled back),
//! and the manual registrar path resumed through its task token while a second execution
//! for the domain is refused. The happy path is the rehearsal's (`tests/rehearsal.rs`).

use std::time::Duration;

use serde_json::{json, Value};
use zonehop::core::delegation::canonical_servers;
use zonehop::core::request::RegistrarKind;
use zonehop::core::zone::RrType;
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::Name;
use zonehop_world::rehearsal::{functions_started, operator_request, Scenario, Stage};
use zonehop_world::stepfunctions::{Execution, HistoryEvent, LocalStepFunctions};
use zonehop_world::{route53_in, source_access, target_access};

/// GIVEN moto's interpreter and `cargo lambda watch` serving every function, all built, and
/// the example zone staged as a rehearsal stages it (TTLs scaled to 2 s).
async fn staged(test: &str, scenario: &Scenario) -> (LocalStepFunctions, Stage) {
    let log = std::env::temp_dir().join(format!(
        "zonehop-migration-{test}-{}.log",
        std::process::id()
    ));
    let local = functions_started(&log).await;
    let stage = Stage::build(&local, scenario, |_| {})
        .await
        .expect("the rehearsal world starts");
    (local, stage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_runs_preflight_through_the_state_machine_and_changes_nothing() {
    let scenario = Scenario::example();
    let (local, stage) = staged("dry-run", &scenario).await;
    let base = stage.base.clone();
    let domain = stage.domain.clone();
    let source_id = stage.source_id.clone();
    let mut request = stage.request(&scenario);
    request["dryRun"] = serde_json::json!(true);

    let execution = run(&local, &stage, "example-com-dry-run", &request).await;

    assert!(execution.succeeded(), "{}", execution.history_text());
    let states = execution.state_names();
    assert!(states.iter().any(|s| s == "Preflight"), "{states:?}");
    assert!(states.iter().any(|s| s == "Dry Run Complete"), "{states:?}");
    assert!(
        !states.iter().any(|s| s == "Create Zone"),
        "a dry run creates nothing: {states:?}"
    );
    let source = route53_in(&base, &source_access()).await;
    let after = read_zone(&source, &source_id).await.expect("source reads");
    assert!(
        !after
            .iter()
            .any(|r| r.name == Name::parse("_zonehop.example.com").expect("name")),
        "no canary on a dry run"
    );
    let target = route53_in(&base, &target_access()).await;
    assert!(
        zonehop::ports::hosted_zones::HostedZones::zones_named(&target, &domain)
            .await
            .expect("list")
            .is_empty(),
        "no target zone on a dry run"
    );
}

/// The migration state machine with a check-propagation that cannot be invoked (every
/// round fails as a broken function would): what the rollback tests start.
async fn without_check_propagation(local: &LocalStepFunctions, name: &str) -> String {
    local
        .sfn
        .create_state_machine_from_file(
            name,
            &zonehop_world::rehearsal::state_machine_file(),
            &local.substitutions(&[
                ("EventBusName", "default"),
                (
                    "CheckPropagationFunctionArn",
                    "arn:aws:lambda:us-east-1:123456789012:function:no-such-check-propagation",
                ),
            ]),
        )
        .await
        .expect("the state machine is created")
}

/// Waits for the execution's end.
async fn ended(local: &LocalStepFunctions, arn: &str) -> Execution {
    local
        .sfn
        .wait_for_end(arn, Duration::from_secs(150))
        .await
        .expect("the execution ends")
}

/// Starts an execution and waits for its end.
async fn run(local: &LocalStepFunctions, stage: &Stage, name: &str, request: &Value) -> Execution {
    let arn = stage.start(local, name, request).await.expect("started");
    ended(local, &arn).await
}

/// What the emulated registrar says the domain's name servers are.
async fn registration(stage: &Stage) -> Vec<String> {
    stage.registration().await.expect("registration")
}

/// The source zone's own apex NS.
async fn source_apex_ns(stage: &Stage) -> Vec<String> {
    let source = route53_in(&stage.base, &source_access()).await;
    let zone = read_zone(&source, &stage.source_id)
        .await
        .expect("source reads");
    let values: Vec<String> = zone
        .iter()
        .find(|r| r.name == stage.domain && r.rtype == RrType::NS)
        .map(|r| r.values().map(str::to_owned).collect())
        .unwrap_or_default();
    canonical_servers(&values)
}

/// The source zone's servers, as Route 53 assigned them.
async fn source_servers(stage: &Stage) -> Vec<String> {
    let source = route53_in(&stage.base, &source_access()).await;
    canonical_servers(
        &source
            .get_zone(&stage.source_id)
            .await
            .expect("source zone")
            .name_servers,
    )
}

fn ran(execution: &Execution, state: &str) -> bool {
    execution.state_names().iter().any(|s| s == state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_difference_found_by_verify_zones_fails_the_migration_before_the_registration_is_touched()
{
    let scenario = Scenario::example();
    let (local, stage) = staged("differs", &scenario).await;
    let registered = registration(&stage).await;
    assert_eq!(registered, source_servers(&stage).await);
    let arn = stage
        .start(&local, "example-com-differs", &stage.request(&scenario))
        .await
        .expect("started");

    // WHEN one of the new zone's servers keeps serving the zone as created (empty) while
    // the records are copied.
    let created = local
        .sfn
        .wait_for_event(&arn, Duration::from_secs(120), |e| {
            e.state_exited() == Some("Create Zone")
        })
        .await
        .expect("the target zone is created");
    let stale = created.output().expect("state")["createZone"]["nameServers"][0]
        .as_str()
        .expect("a name server")
        .trim_end_matches('.')
        .to_owned();
    let mut frozen = stage.world.freeze_server(&stale).await;
    for _ in 0..50 {
        if frozen.is_ok() {
            break;
        }
        // The world learns of the new zone at its next read of moto.
        tokio::time::sleep(Duration::from_millis(100)).await;
        frozen = stage.world.freeze_server(&stale).await;
    }
    frozen.expect("one new server keeps a stale copy");
    let execution = ended(&local, &arn).await;

    // THEN verify-zones fails it, names the server, and the registration never moved.
    assert!(!execution.succeeded(), "{}", execution.history_text());
    assert_eq!(execution.error.as_deref(), Some("ZonesDiffer"));
    let cause = execution.cause.clone().unwrap_or_default();
    assert!(cause.contains(&stale), "{cause}");
    for state in ["Lower NS TTL", "Swap Nameservers", "Rollback"] {
        assert!(
            !ran(&execution, state),
            "{state} ran: {}",
            execution.history_text()
        );
    }
    assert!(ran(&execution, "Migration Failed"));
    assert_eq!(registration(&stage).await, registered);
    assert_eq!(source_apex_ns(&stage).await, registered);
}

/// GIVEN a state machine whose check-propagation function does not exist (every invoke of it
/// fails for good), WHEN the swap has happened, THEN the rollback puts the registration and the
/// old zone's apex NS back, and the execution fails with the original error: before "safe", a
/// failure that is not transient undoes the swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_swap_rolls_the_registration_and_the_old_apex_ns_back() {
    let scenario = Scenario::example();
    let (local, stage) = staged("rollback", &scenario).await;
    let old = source_servers(&stage).await;
    let broken = without_check_propagation(&local, "migration-broken-check-propagation").await;
    let arn = local
        .sfn
        .start_execution(&broken, "example-com-rollback", &stage.request(&scenario))
        .await
        .expect("started");
    let execution = ended(&local, &arn).await;

    // THEN the swap happened, check-propagation failed, and the rollback put both back.
    assert!(!execution.succeeded(), "{}", execution.history_text());
    let history = execution.history_text();
    for state in [
        "Swap Nameservers",
        "Check Propagation",
        "Rollback",
        "Rolled Back",
    ] {
        assert!(ran(&execution, state), "{state} did not run: {history}");
    }
    assert!(!ran(&execution, "Finalize"), "{history}");
    let swapped = execution
        .history
        .iter()
        .find(|e| e.state_exited() == Some("Swap Nameservers"))
        .and_then(HistoryEvent::output)
        .expect("the swap's output");
    assert_eq!(swapped["swap"]["registrationChanged"], true, "{swapped}");
    // The execution fails with the original error (not RollbackFailed).
    let error = execution.error.clone().unwrap_or_default();
    assert!(
        !error.is_empty() && error != "RollbackFailed",
        "{error}: {history}"
    );
    assert_eq!(registration(&stage).await, old);
    assert_eq!(source_apex_ns(&stage).await, old);
}

/// Issue 10, `resolver-outage`: evidence is not a verdict. GIVEN a migration whose
/// check-propagation finds the parent through unbound and probes kresd, WHEN unbound dies after
/// the first propagation round, THEN the rounds go on with the parent servers' addresses they
/// already know, and the migration succeeds: a lost resolver never rolls back a healthy move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolver_outage_after_the_swap_does_not_roll_back_a_healthy_migration() {
    let scenario = Scenario::example();
    let (local, stage) = staged("resolver-outage", &scenario).await;
    let resolver_of = |role: &str| {
        stage
            .world
            .resolvers()
            .iter()
            .find(|r| r.name == role)
            .map(|r| r.addr.to_string())
            .unwrap_or_else(|| panic!("{role} runs"))
    };
    let mut request = stage.request(&scenario);
    request["resolver"] = json!(resolver_of("unbound"));
    request["probe"]["resolvers"] = json!([resolver_of("kresd")]);
    let arn = stage
        .start(&local, "example-com-resolver-outage", &request)
        .await
        .expect("started");
    local
        .sfn
        .wait_for_event(&arn, Duration::from_secs(150), |e| {
            e.state_exited() == Some("Check Propagation")
        })
        .await
        .expect("a first propagation round");
    let (_, unbound) = stage
        .world
        .processes()
        .into_iter()
        .find(|(role, _)| role == "unbound")
        .expect("unbound runs");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &unbound.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let execution = ended(&local, &arn).await;

    let history = execution.history_text();
    assert!(execution.succeeded(), "{history}");
    assert!(!ran(&execution, "Rollback"), "{history}");
    assert_ne!(registration(&stage).await, source_servers(&stage).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manual_registrar_path_waits_for_the_operator_and_a_second_execution_is_refused() {
    let mut scenario = Scenario::example();
    scenario.registrar = RegistrarKind::Manual;
    let (local, stage) = staged("manual", &scenario).await;
    let request = stage.request(&scenario);
    let arn = stage
        .start(&local, "example-com-manual", &request)
        .await
        .expect("started");

    // The execution asks the operator, with the name servers and the command to resume.
    let asked = local
        .sfn
        .wait_for_event(&arn, Duration::from_secs(150), |e| {
            operator_request(e).is_some()
        })
        .await
        .expect("the operator is asked");
    let detail = operator_request(&asked).expect("detail");
    let token = detail["taskToken"].as_str().expect("taskToken").to_owned();
    assert!(!token.is_empty());
    for command in ["resumeCommand", "heartbeatCommand", "abortCommand"] {
        let text = detail[command].as_str().unwrap_or_default();
        assert!(
            text.starts_with("aws stepfunctions send-task-") && text.ends_with(&token),
            "{command}: {text}"
        );
    }
    let servers: Vec<String> = detail["nameServers"]
        .as_array()
        .expect("nameServers")
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    assert_eq!(servers.len(), 4, "{detail}");

    // WHILE it waits, a second execution for the domain is refused by preflight.
    let refused = run(&local, &stage, "example-com-second", &request).await;
    assert_eq!(
        refused.error.as_deref(),
        Some("MigrationInProgress"),
        "{}",
        refused.history_text()
    );
    assert!(!ran(&refused, "Create Zone"));
    let waiting = local.sfn.describe_execution(&arn).await.expect("first");
    assert_eq!(
        waiting.status,
        zonehop_world::stepfunctions::ExecutionStatus::Running
    );

    // The operator sets the name servers at the registrar (the world's registry: a manual
    // registrar is outside Route 53 Domains) and resumes the execution.
    stage
        .operator_sets_name_servers(&servers)
        .await
        .expect("the operator sets them at the registrar");
    local
        .sfn
        .send_task_success(&token, &json!(true))
        .await
        .expect("resumed");
    let execution = ended(&local, &arn).await;
    assert!(execution.succeeded(), "{}", execution.history_text());
    assert!(ran(&execution, "Point Source Apex NS At Target"));
    assert!(!ran(&execution, "Swap Nameservers"));
    assert!(ran(&execution, "Finalize"));
    let new = canonical_servers(&servers);
    assert_eq!(registration(&stage).await, new);
    assert_eq!(source_apex_ns(&stage).await, new);
}

/// Invariant 7: after "safe" nothing rolls back. GIVEN a state machine whose finalize
/// function does not exist (every invoke of it fails, as a finalize that keeps failing
/// days after the swap would), WHEN the migration reaches finalize, THEN the execution fails
/// in `Failed After Safe` with the original error, never runs the rollback, and the
/// registration stays on the new zone's servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invariant_7_a_finalize_that_fails_after_safe_ends_the_run_without_rolling_back() {
    let scenario = Scenario::example();
    let (local, stage) = staged("after-safe", &scenario).await;
    let old = source_servers(&stage).await;
    let broken = local
        .sfn
        .create_state_machine_from_file(
            "migration-broken-finalize",
            &zonehop_world::rehearsal::state_machine_file(),
            &local.substitutions(&[
                ("EventBusName", "default"),
                (
                    "FinalizeFunctionArn",
                    "arn:aws:lambda:us-east-1:123456789012:function:no-such-finalize",
                ),
            ]),
        )
        .await
        .expect("the state machine is created");
    let arn = local
        .sfn
        .start_execution(&broken, "example-com-after-safe", &stage.request(&scenario))
        .await
        .expect("started");
    let execution = ended(&local, &arn).await;

    let history = execution.history_text();
    assert!(!execution.succeeded(), "{history}");
    for state in ["Check Propagation", "Finalize", "Failed After Safe"] {
        assert!(ran(&execution, state), "{state} did not run: {history}");
    }
    assert!(!ran(&execution, "Rollback"), "{history}");
    assert!(execution.error.is_some(), "{history}");
    let new = registration(&stage).await;
    assert_ne!(new, old, "the registration went back to the old servers");
    let target = route53_in(&stage.base, &target_access()).await;
    let zones = target
        .zones_named(&stage.domain)
        .await
        .expect("the target zone");
    let target_servers = canonical_servers(
        &target
            .get_zone(&zones.first().expect("one target zone").id)
            .await
            .expect("target zone")
            .name_servers,
    );
    assert_eq!(new, target_servers);
    assert_eq!(source_apex_ns(&stage).await, target_servers);
}

/// The parent's NS record for the domain in the parent hosted zone (`route53zone`).
async fn parent_delegation(stage: &Stage) -> Option<zonehop::core::zone::RecordSet> {
    let zones = route53_in(&stage.base, &zonehop_world::registrar::registrar_access()).await;
    let id = stage.parent_zone_id.as_deref().expect("a parent zone");
    read_zone(&zones, id)
        .await
        .expect("the parent zone reads")
        .iter()
        .find(|r| r.name == stage.domain && r.rtype == RrType::NS)
        .cloned()
}

/// The largest `parentNsTtl` any propagation round carried: the delegation TTL its
/// safe-at bound used.
fn parent_ttl_seen(execution: &Execution) -> Option<i64> {
    fn largest(value: &Value) -> Option<i64> {
        match value {
            Value::Object(map) => map
                .iter()
                .filter_map(|(k, v)| {
                    if k == "parentNsTtl" {
                        v.as_i64()
                    } else {
                        largest(v)
                    }
                })
                .max(),
            Value::Array(items) => items.iter().filter_map(largest).max(),
            _ => None,
        }
    }
    execution
        .history
        .iter()
        .filter(|e| e.state_exited() == Some("Check Propagation"))
        .filter_map(HistoryEvent::output)
        .filter_map(|output| largest(&output))
        .max()
}

/// Issue 12.1, `registrar.type: route53zone`. GIVEN app.example.com (the example zone,
/// rerooted) delegated by its parent example.com, a hosted zone in a third account, with an
/// NS TTL of 20 s, WHEN it migrates with `lowerNsTtl`, THEN lower-ns-ttl lowers the parent's
/// TTL to 2 s and waits out the 20, the swap changes the parent's record, every propagation
/// round sees the lowered TTL (so the window after the switch is bounded by it, not by 20 s),
/// and finalize raises it to `nsTtl.after` on the new servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subdomain_whose_parent_is_a_hosted_zone_moves_within_the_lowered_parent_ttl() {
    let mut scenario = Scenario::example().rerooted(&Name::parse("app.example.com").expect("name"));
    scenario.registrar = RegistrarKind::Route53zone;
    let (local, stage) = staged("route53zone", &scenario).await;
    let old = source_servers(&stage).await;
    assert_eq!(
        registration(&stage).await,
        old,
        "the parent delegates to the source"
    );
    let request = stage.request(&scenario);
    let execution = run(&local, &stage, "app-example-com-route53zone", &request).await;
    let history = execution.history_text();
    assert!(execution.succeeded(), "{history}");
    assert!(ran(&execution, "Swap Nameservers"), "{history}");
    assert!(!ran(&execution, "Ask Operator To Swap Nameservers"));

    let lowered = execution
        .history
        .iter()
        .find(|e| e.state_exited() == Some("Lower NS TTL"))
        .and_then(HistoryEvent::output)
        .expect("lower-ns-ttl's output");
    let text = lowered.to_string();
    assert!(
        text.contains(&format!(
            "\"previousParentTtl\":{}",
            zonehop_world::rehearsal::PARENT_DELEGATION_TTL
        )),
        "{text}"
    );
    assert!(
        lowered["nsTtlLowered"]["waitSeconds"].as_i64()
            >= Some(i64::from(zonehop_world::rehearsal::PARENT_DELEGATION_TTL)),
        "the old delegation's TTL is waited out before the swap: {text}"
    );
    let during = request["nsTtl"]["during"].as_i64().expect("during");
    let seen = parent_ttl_seen(&execution).expect("the rounds saw the parent's TTL");
    assert!(
        seen <= during,
        "the window is bounded by the lowered parent TTL ({during} s), not {seen} s: {history}"
    );

    let target = route53_in(&stage.base, &target_access()).await;
    let target_zone = target
        .zones_named(&stage.domain)
        .await
        .expect("list")
        .into_iter()
        .next()
        .expect("the target zone");
    let new = canonical_servers(
        &target
            .get_zone(&target_zone.id)
            .await
            .expect("zone")
            .name_servers,
    );
    let delegation = parent_delegation(&stage).await.expect("the delegation");
    assert_eq!(
        canonical_servers(&delegation.values().map(str::to_owned).collect::<Vec<_>>()),
        new
    );
    assert_eq!(delegation.ttl, request["nsTtl"]["after"].as_i64());
    assert_eq!(source_apex_ns(&stage).await, new);
}

/// Issue 12.1: rollback restores the parent's NS record exactly. GIVEN the route53zone
/// migration with a check-propagation that cannot be invoked, WHEN the swap is followed by
/// the failure, THEN the rollback puts the parent's record back to the source's servers and
/// its original TTL, and the old zone's apex NS too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route53zone_rollback_restores_the_parents_record_exactly() {
    let mut scenario = Scenario::example().rerooted(&Name::parse("app.example.com").expect("name"));
    scenario.registrar = RegistrarKind::Route53zone;
    let (local, stage) = staged("route53zone-rollback", &scenario).await;
    let before = parent_delegation(&stage).await.expect("the delegation");
    let old = source_servers(&stage).await;
    let broken = without_check_propagation(&local, "migration-route53zone-broken").await;
    let arn = local
        .sfn
        .start_execution(
            &broken,
            "app-example-com-rollback",
            &stage.request(&scenario),
        )
        .await
        .expect("started");
    let execution = ended(&local, &arn).await;
    let history = execution.history_text();
    assert!(!execution.succeeded(), "{history}");
    for state in ["Swap Nameservers", "Rollback", "Rolled Back"] {
        assert!(ran(&execution, state), "{state} did not run: {history}");
    }
    assert_eq!(
        parent_delegation(&stage).await,
        Some(before),
        "servers and TTL as before the migration"
    );
    assert_eq!(source_apex_ns(&stage).await, old);
}

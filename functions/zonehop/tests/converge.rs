//! Issue #21 on the twins: whatever stopped the first execution (a step that crashed after
//! its work, a StopExecution in any state, a failed registrar operation, a new server that
//! lied), a second execution of the same request converges: it ends SUCCEEDED, with the
//! registration on the new servers and both zones holding the same records.
//!
//! Each execution is the real state machine (statemachine/migration.asl.json) run by the
//! twin interpreter (`machine/`), every task served by the step's own code on the in-memory
//! world; the end-to-end drills of `make test` (tests/harness's faults tests) keep the few
//! that only the real world shows.

mod common;
mod machine;

use std::sync::Arc;

use common::*;
use machine::{migration_definition, Ended, Fault, Invoker, Machine, StateError};
use serde::Serialize;
use serde_json::{json, Value};
use zonehop::adapters::memory::{zone_answer, MemoryRegistrar, MemoryZones};
use zonehop::adapters::parent_zone::NO_PARENT;
use zonehop::core::delegation::canonical_servers;
use zonehop::core::drift::own_records;
use zonehop::core::name::Name;
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::steps;

/// Every step's request parsed as its handler parses it, and its output or error as the
/// Lambda runtime returns them to the state machine.
struct Twins<'w> {
    w: &'w World,
}

fn parsed<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T, StateError> {
    zonehop::request::parse(payload).map_err(|e| StateError::new(e.error_type(), e.to_string()))
}

fn returned<T: Serialize>(result: Result<T, zonehop::Error>) -> Result<Value, StateError> {
    match result {
        Ok(out) => Ok(serde_json::to_value(out).expect("an output is JSON")),
        Err(e) => Err(StateError::new(e.error_type(), e.to_string())),
    }
}

impl Invoker for Twins<'_> {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, StateError> {
        let w = self.w;
        let s = settings();
        let (source, target, clock, ledger) = (&*w.source, &*w.target, &w.clock, &w.ledger);
        match function {
            "preflight" => returned(
                steps::preflight::preflight(
                    w.preflight_ports(&*w.registrar),
                    clock,
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            "create-zone" => {
                returned(steps::create_zone::create_zone(target, &parsed(payload)?, &s).await)
            }
            "delegate-subdomain" => returned(
                steps::delegate_subdomain::delegate_subdomain(
                    source,
                    &w.dns,
                    clock,
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            "sync-records" => returned(
                steps::sync_records::sync_records(
                    source,
                    target,
                    ledger,
                    clock,
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            "verify-zones" => returned(
                steps::verify_zones::verify_zones(source, target, &w.dns, &parsed(payload)?, &s)
                    .await,
            ),
            "lower-ns-ttl" => returned(
                steps::lower_ns_ttl::lower_ns_ttl(
                    source,
                    target,
                    NO_PARENT,
                    ledger,
                    clock,
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            "swap-nameservers" => returned(
                steps::swap_nameservers::swap_nameservers(
                    source,
                    target,
                    &*w.registrar,
                    ledger,
                    clock,
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            "carry-edits" => returned(
                steps::carry_edits::carry_edits(
                    source,
                    target,
                    ledger,
                    clock,
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            "check-propagation" => returned(
                steps::check_propagation::check_propagation(
                    source,
                    target,
                    &w.dns,
                    clock,
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            "cutover" => returned(
                steps::cutover::cutover(source, target, clock, &parsed(payload)?, &s).await,
            ),
            "finalize" => returned(
                steps::finalize::finalize(
                    source,
                    target,
                    NO_PARENT,
                    (ledger, clock),
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            "rollback" => returned(
                steps::rollback::rollback(
                    source,
                    &*w.registrar,
                    NO_PARENT,
                    ledger,
                    clock,
                    &parsed(payload)?,
                    &s,
                )
                .await,
            ),
            other => panic!("the state machine invokes {other}, which the twins do not serve"),
        }
    }
}

/// The world of the steps' unit tests, with probe resolvers that follow the delegation as
/// the registration has it (a resolver without a cache: the TTL bound is check-propagation's
/// own), so that "safe" can come.
fn world() -> World {
    let w = World::new();
    for probe in PROBE_RESOLVERS {
        let registrar: Arc<MemoryRegistrar> = Arc::clone(&w.registrar);
        let (source, target) = (Arc::clone(&w.source), Arc::clone(&w.target));
        let domain = w.domain.clone();
        w.dns.serve_with(
            addr(probe),
            Arc::new(move |name: &Name, rtype: RrType| {
                let servers = registrar.servers_of(&domain)?;
                let server = Name::parse(servers.first()?).ok()?;
                let zones: [&MemoryZones; 2] = [&source, &target];
                let (zones, zone) = zones
                    .into_iter()
                    .find_map(|z| z.zone_served_by(&server).map(|zone| (z, zone)))?;
                let records = zones.records(&zone.id).ok()?;
                let mut answer = zone_answer(&records, &zone.name, &zone.id, name, rtype);
                answer.authoritative = false;
                Some(answer)
            }),
        );
    }
    w
}

/// The request an operator starts, as the console would send it, with a cutover record (so
/// that every step runs).
fn request(w: &World) -> Value {
    json!({
        "domain": "example.com",
        "source": { "hostedZoneId": w.source_id() },
        "keepInSource": ["dev.example.com"],
        "nsTtl": { "during": 300, "after": 3600 },
        "probe": { "resolvers": PROBE_RESOLVERS },
        "resolver": RESOLVER,
        "pacing": { "minWait": 60, "maxWait": 3600 },
        "cutover": { "records": [
            { "name": "mail.example.com", "type": "A", "values": ["192.0.2.21"], "ttl": 300 }
        ] },
    })
}

fn execution_id(run: usize) -> String {
    format!("arn:aws:states:us-east-1:111111111111:execution:zonehop:example-com-{run}")
}

/// Runs one execution to its end, with the lock's bookkeeping Step Functions would do
/// (the execution is running while it runs, and not after).
async fn execute(w: &World, run: usize, fault: Option<Fault>) -> (Ended, machine::Trace) {
    let definition = migration_definition();
    let twins = Twins { w };
    let id = execution_id(run);
    w.executions.set_running(&id, true);
    let mut machine = Machine::new(&definition, &twins, &w.clock, &id);
    if let Some(fault) = fault {
        machine = machine.with_fault(fault);
    }
    let ended = machine.run(request(w)).await;
    w.executions.set_running(&id, false);
    (ended, machine.trace)
}

/// The records a user owns in a zone (without the apex SOA and NS, zonehop's canary, and
/// the kept subtree's delegation), sorted.
fn user_records(zone: &MemoryZones, id: &str, apex: &Name) -> Vec<RecordSet> {
    let own = own_records(apex);
    let mut records: Vec<RecordSet> = zone
        .records(id)
        .expect("the zone")
        .iter()
        .filter(|r| !own(&r.key()))
        .filter(|r| !(r.rtype == RrType::NS && r.name != *apex))
        .cloned()
        .collect();
    records.sort_by_key(|r| r.key());
    records
}

/// The migration is done: registration on the one target zone's servers, the zones exact,
/// no canary left, the kept subtree delegated from both.
fn assert_converged(w: &World, what: &str) {
    let targets: Vec<_> = w
        .target
        .zones()
        .into_iter()
        .filter(|z| z.name == w.domain)
        .collect();
    assert_eq!(
        targets.len(),
        1,
        "{what}: one target zone, never two: {targets:?}"
    );
    let target = &targets[0];
    assert_eq!(
        w.registrar.servers_of(&w.domain),
        Some(canonical_servers(&target.name_servers)),
        "{what}: the registration is on the new servers"
    );
    let source = user_records(&w.source, w.source_id(), &w.domain);
    let new = user_records(&w.target, &target.id, &w.domain);
    assert_eq!(source, new, "{what}: both zones hold the same records");
    assert!(
        new.iter().any(|r| r.name == n("www.example.com")),
        "{what}: the records moved: {new:?}"
    );
    assert!(
        new.contains(&a("mail.example.com", 300, &["192.0.2.21"])),
        "{what}: the cutover record is in both zones: {new:?}"
    );
    for (zones, id) in [(&w.source, w.source_id()), (&w.target, target.id.as_str())] {
        let records = zones.records(id).expect("zone");
        assert!(
            !records.iter().any(|r| r.name == n("_zonehop.example.com")),
            "{what}: finalize removed the canary from {id}"
        );
        assert!(
            records
                .iter()
                .any(|r| r.name == n("dev.example.com") && r.rtype == RrType::NS),
            "{what}: dev.example.com stays delegated from {id}"
        );
    }
}

/// A first execution with `fault`, then a second of the same request with none.
async fn drill(fault: Fault) -> (Ended, Ended, machine::Trace) {
    let w = world();
    let (first, trace) = execute(&w, 1, Some(fault.clone())).await;
    let (second, again) = execute(&w, 2, None).await;
    assert!(
        matches!(second, Ended::Succeeded(_)),
        "after {fault:?} (first: {first:?}), the second execution: {second:?}\nstates: {:?}",
        again.states
    );
    assert_converged(&w, &format!("after {fault:?}"));
    (first, second, trace)
}

/// The tasks of the migration state machine that invoke a step (Map iterations included).
fn step_tasks(definition: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut blocks = vec![definition["States"].clone()];
    while let Some(block) = blocks.pop() {
        for (name, state) in block.as_object().into_iter().flatten() {
            if let Some(inner) = state.get("ItemProcessor").and_then(|p| p.get("States")) {
                blocks.push(inner.clone());
            }
            if state["Resource"] == "arn:aws:states:::lambda:invoke" {
                out.push(name.clone());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(start_paused = true)]
async fn the_twin_state_machine_migrates_the_example_in_one_execution() {
    let w = world();
    let (ended, trace) = execute(&w, 1, None).await;
    assert!(
        matches!(ended, Ended::Succeeded(_)),
        "{ended:?}\n{:?}",
        trace.states
    );
    assert_converged(&w, "one execution");
    for state in [
        "Delegate Subdomain",
        "Swap Nameservers",
        "Check Propagation",
        "Finalize",
    ] {
        assert!(trace.entered(state), "{state} ran: {:?}", trace.states);
    }
    assert!(!trace.entered("Rollback"), "{:?}", trace.states);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_any_step_then_a_second_execution_converges() {
    let definition = migration_definition();
    let tasks: Vec<String> = step_tasks(&definition)
        .into_iter()
        // The manual registrar's task (another request) and rollback (drilled below).
        .filter(|t| t != "Point Source Apex NS At Target" && t != "Rollback")
        .collect();
    assert_eq!(tasks.len(), 11, "{tasks:?}");
    for task in tasks {
        let (first, _, trace) = drill(Fault::CrashAfter {
            state: task.clone(),
        })
        .await;
        // Carry-edits' failure is announced and passed over: the first execution goes on.
        if task == "Carry Edits" {
            assert!(trace.entered("Announce Carry Failed"), "{:?}", trace.states);
        } else {
            assert!(!matches!(first, Ended::Succeeded(_)), "{task}: {first:?}");
        }
        // After the swap and before "safe", a crash rolls back; after "safe" it never does.
        let rolled_back = trace.entered("Rollback");
        let expected = matches!(task.as_str(), "Swap Nameservers" | "Check Propagation");
        assert_eq!(rolled_back, expected, "{task}: {:?}", trace.states);
    }
}

#[tokio::test(start_paused = true)]
async fn a_rollback_that_crashes_after_its_work_then_a_second_execution_converges() {
    // The swap crashes once its work is done, so the first execution rolls back, and the
    // rollback crashes once its own work is done: Rollback Failed.
    let w = world();
    let definition = migration_definition();
    let twins = Twins { w: &w };
    let id = execution_id(1);
    w.executions.set_running(&id, true);
    let mut first = Machine::new(&definition, &twins, &w.clock, &id)
        .with_fault(Fault::CrashAfter {
            state: "Swap Nameservers".into(),
        })
        .with_fault(Fault::CrashAfter {
            state: "Rollback".into(),
        });
    let ended = first.run(request(&w)).await;
    w.executions.set_running(&id, false);
    assert!(
        matches!(&ended, Ended::Failed { state, .. } if state == "Rollback Failed"),
        "{ended:?}"
    );
    let (second, trace) = execute(&w, 2, None).await;
    assert!(
        matches!(second, Ended::Succeeded(_)),
        "{second:?}\n{:?}",
        trace.states
    );
    assert_converged(&w, "after a rollback that crashed");
}

#[tokio::test(start_paused = true)]
async fn a_stop_in_any_state_then_a_second_execution_converges() {
    // Every state the first execution enters on its way, stopped there in turn: a
    // StopExecution (or the execution's timeout) can come at any of them. The rounds of the
    // window repeat; the first round of each is enough.
    let w = world();
    let (_, trace) = execute(&w, 1, None).await;
    let mut states: Vec<String> = Vec::new();
    for state in trace.states {
        if !states.contains(&state) {
            states.push(state);
        }
    }
    assert!(states.len() > 30, "{states:?}");
    for state in states {
        let (first, _, _) = drill(Fault::StopAt {
            state: state.clone(),
            nth: 1,
        })
        .await;
        assert!(matches!(first, Ended::Aborted { .. }), "{state}: {first:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_stop_in_a_late_round_of_the_window_then_a_second_execution_converges() {
    for nth in [2, 5, 20] {
        let (first, _, _) = drill(Fault::StopAt {
            state: "Check Propagation".into(),
            nth,
        })
        .await;
        assert!(
            matches!(first, Ended::Aborted { .. }),
            "round {nth}: {first:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_registrar_operation_rolls_back_and_the_second_execution_sends_a_new_update() {
    let w = world();
    w.registrar.fail_next_operations(1);
    let (first, trace) = execute(&w, 1, None).await;
    assert!(
        matches!(&first, Ended::Failed { error, .. } if error.error == "RegistrarOperationFailed"),
        "{first:?}"
    );
    assert!(trace.entered("Rollback"), "{:?}", trace.states);
    let (second, trace) = execute(&w, 2, None).await;
    assert!(
        matches!(second, Ended::Succeeded(_)),
        "{second:?}\n{:?}",
        trace.states
    );
    assert_converged(&w, "after a failed registrar operation");
}

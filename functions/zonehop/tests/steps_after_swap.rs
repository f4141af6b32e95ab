//! Unit tests of swap-nameservers, cutover, finalize and rollback on the in-memory twins:
//! the happy path, a re-run that converges without writing (invariant 3), and a failure
//! with its errorType.

mod common;

use zonehop::core::access::Work;

use common::*;
use serde_json::json;
use std::time::Duration;
use zonehop::adapters::memory::MemoryLedger;
use zonehop::adapters::memory::{Fault, RegistrarOp, ZoneOp};
use zonehop::adapters::parent_zone::NO_PARENT;
use zonehop::core::delegation::canonical_servers;
use zonehop::core::zone::RrType;
use zonehop::steps::carry_edits::{carry_edits, CarryOutput};
use zonehop::steps::cutover::cutover;
use zonehop::steps::finalize::finalize;
use zonehop::steps::rollback::rollback;
use zonehop::steps::swap_nameservers::{swap_nameservers, SwapOutput};
use zonehop::steps::sync_records::sync_records;
use zonehop::Settings;

/// A world with the target created and synced (the canary on both sides).
async fn synced() -> (World, String) {
    let w = World::new();
    let target = w.create_target().await.hosted_zone_id;
    w.source
        .put_records(
            w.source_id(),
            [rr(
                "_zonehop.example.com",
                RrType::TXT,
                60,
                &["\"side=old\"", "\"execution=x\""],
            )],
        )
        .expect("canary");
    sync_records(
        &*w.source,
        &*w.target,
        &w.ledger,
        &w.clock,
        &request(json!({
            "domain": "example.com",
            "source": { "hostedZoneId": w.source_id() },
            "target": { "hostedZoneId": target, "adopted": false },
            "extraRecords": [World::new_canary()],
        })),
        &settings(),
    )
    .await
    .expect("synced");
    w.source.clear_calls();
    w.target.clear_calls();
    (w, target)
}

fn target_servers(w: &World, target: &str) -> Vec<String> {
    canonical_servers(&w.target.zone(target).expect("target").name_servers)
}

async fn swap(w: &World, target: &str, kind: &str) -> Result<SwapOutput, zonehop::Error> {
    swap_nameservers(
        &*w.source,
        &*w.target,
        &*w.registrar,
        &w.ledger,
        &w.clock,
        &request(w.with(Some(target), json!({ "registrar": { "type": kind } }))),
        &settings(),
    )
    .await
}

// ---------------------------------------------------------------- swap-nameservers

#[tokio::test(start_paused = true)]
async fn swap_points_the_registration_and_the_old_apex_ns_at_the_new_servers() {
    let (w, target) = synced().await;
    w.clear_calls();
    w.registrar.set_polls_until_done(2);
    let out = swap(&w, &target, "route53domains").await.expect("swapped");
    let new = target_servers(&w, &target);
    assert_eq!(out.name_servers, new);
    assert!(out.registration_changed && out.source_apex_ns_changed);
    assert_eq!(w.registrar.servers_of(&w.domain), Some(new.clone()));
    assert_eq!(
        w.registrar.count(RegistrarOp::GetOperationDetail),
        3,
        "SUBMITTED, IN_PROGRESS, SUCCESSFUL"
    );
    let apex = apex_ns(&w.source_records(), &w.domain);
    assert_eq!(
        canonical_servers(&apex.values().map(str::to_owned).collect::<Vec<_>>()),
        new
    );
    assert_eq!(apex.ttl, Some(172_800), "TTL kept");
    assert_least_privilege(Work::SwapNameservers, &w);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_swap_run_again_changes_neither_registration_nor_zone() {
    let (w, target) = synced().await;
    swap(&w, &target, "route53domains").await.expect("first");
    let writes = w.writes();
    let again = swap(&w, &target, "route53domains").await.expect("second");
    assert!(!again.registration_changed && !again.source_apex_ns_changed);
    assert_eq!(w.writes(), writes);
}

#[tokio::test(start_paused = true)]
async fn a_failed_registrar_operation_is_named_and_leaves_the_old_apex_ns() {
    let (w, target) = synced().await;
    w.registrar.fail_next_operations(1);
    let before = w.source_records();
    let err = swap(&w, &target, "route53domains")
        .await
        .expect_err("failed");
    assert_eq!(err.error_type(), "RegistrarOperationFailed");
    assert_eq!(
        w.registrar.servers_of(&w.domain),
        Some(canonical_servers(&w.source_zone.name_servers))
    );
    assert_eq!(w.source_records(), before);
}

#[tokio::test(start_paused = true)]
async fn a_slow_registrar_hands_back_a_retryable_pending_and_the_retry_converges() {
    let (w, target) = synced().await;
    w.registrar.set_polls_until_done(1_000);
    let quick = Settings {
        operation_timeout: Duration::from_millis(1),
        ..settings()
    };
    let err = swap_nameservers(
        &*w.source,
        &*w.target,
        &*w.registrar,
        &w.ledger,
        &w.clock,
        &request(w.with(Some(&target), json!({}))),
        &quick,
    )
    .await
    .expect_err("pending");
    assert_eq!(err.error_type(), "RegistrarOperationPending");
    assert!(err.is_transient());
    // A retry while the operation runs polls the operation the ledger names: no second
    // update (which Route 53 Domains would refuse as a DuplicateRequest).
    let again = swap_nameservers(
        &*w.source,
        &*w.target,
        &*w.registrar,
        &w.ledger,
        &w.clock,
        &request(w.with(Some(&target), json!({}))),
        &quick,
    )
    .await
    .expect_err("still running");
    assert_eq!(again.error_type(), "RegistrarOperationPending");
    assert!(again.to_string().contains("op-00000001"), "{again}");
    assert_eq!(w.registrar.count(RegistrarOp::UpdateDomainNameservers), 1);
    // Once it completes, the retry finishes with the first operation.
    w.registrar.set_polls_until_done(0);
    let out = swap(&w, &target, "route53domains").await.expect("done");
    assert_eq!(out.operation_id.as_deref(), Some("op-00000001"));
    assert_eq!(
        w.registrar.servers_of(&w.domain),
        Some(target_servers(&w, &target))
    );
    assert_eq!(
        w.registrar.count(RegistrarOp::UpdateDomainNameservers),
        1,
        "one UpdateDomainNameservers in all"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_registrar_operation_is_never_polled_again_the_next_run_sends_a_new_update() {
    // Issue #21: the ledger's failed operation used to be polled again by every later run
    // for 30 days, each reporting the same failure without sending an update.
    let (w, target) = synced().await;
    w.registrar.fail_next_operations(1);
    let err = swap(&w, &target, "route53domains")
        .await
        .expect_err("failed");
    assert_eq!(err.error_type(), "RegistrarOperationFailed");
    assert_eq!(w.registrar.count(RegistrarOp::UpdateDomainNameservers), 1);
    // The cause fixed, the same request again: a new update, and the registration moves.
    let again = swap(&w, &target, "route53domains")
        .await
        .expect("a new update");
    assert_eq!(w.registrar.count(RegistrarOp::UpdateDomainNameservers), 2);
    assert_ne!(again.operation_id.as_deref(), Some("op-00000001"));
    assert_eq!(
        w.registrar.servers_of(&w.domain),
        Some(target_servers(&w, &target))
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_rollback_the_next_swap_sends_a_new_update() {
    // Issue #21: the next swap used to poll the first swap's SUCCESSFUL operation, report
    // the swap done and leave the registration on the old servers.
    let (w, target) = synced().await;
    let first = swap(&w, &target, "route53domains").await.expect("swapped");
    rollback(
        &*w.source,
        &*w.registrar,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(rollback_body(&w, "route53domains")),
        &settings(),
    )
    .await
    .expect("rolled back");
    let old = canonical_servers(&w.source_zone.name_servers);
    assert_eq!(w.registrar.servers_of(&w.domain), Some(old));
    let second = swap(&w, &target, "route53domains")
        .await
        .expect("swapped again");
    assert!(second.registration_changed, "{second:?}");
    assert_ne!(second.operation_id, first.operation_id);
    assert_eq!(
        w.registrar.servers_of(&w.domain),
        Some(target_servers(&w, &target))
    );
    assert_eq!(w.registrar.count(RegistrarOp::UpdateDomainNameservers), 3);
}

#[tokio::test(start_paused = true)]
async fn a_manual_registrar_is_not_touched_but_the_old_apex_ns_is() {
    let (w, target) = synced().await;
    let out = swap(&w, &target, "manual").await.expect("swapped");
    assert!(!out.registration_changed);
    assert!(out.source_apex_ns_changed);
    assert_eq!(w.registrar.count(RegistrarOp::GetDomainDetail), 0);
}

// ---------------------------------------------------------------- cutover

fn cutover_body(w: &World, target: &str, records: serde_json::Value) -> serde_json::Value {
    w.with(Some(target), json!({ "records": records }))
}

#[tokio::test(start_paused = true)]
async fn cutover_writes_the_same_records_in_both_zones() {
    let (w, target) = synced().await;
    w.clear_calls();
    let records =
        json!([{ "name": "www.example.com", "type": "A", "values": ["203.0.113.7"], "ttl": 60 }]);
    let out = cutover(
        &*w.source,
        &*w.target,
        &w.clock,
        &request(cutover_body(&w, &target, records)),
        &settings(),
    )
    .await
    .expect("cut over");
    assert!(out.source_changed && out.target_changed);
    let wanted = a("www.example.com", 60, &["203.0.113.7"]);
    for zone in [
        w.source_records(),
        w.target.records(&target).expect("target"),
    ] {
        assert!(zone.get(&wanted.key()).expect("www").same_content(&wanted));
    }
    assert_least_privilege(Work::Cutover, &w);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_cutover_run_again_writes_nothing() {
    let (w, target) = synced().await;
    let records = json!([{ "name": "www.example.com", "type": "A", "values": ["203.0.113.7"] }]);
    let body = cutover_body(&w, &target, records);
    cutover(
        &*w.source,
        &*w.target,
        &w.clock,
        &request(body.clone()),
        &settings(),
    )
    .await
    .expect("first");
    let writes = w.writes();
    let again = cutover(
        &*w.source,
        &*w.target,
        &w.clock,
        &request(body),
        &settings(),
    )
    .await
    .expect("second");
    assert!(!again.source_changed && !again.target_changed);
    assert_eq!(w.writes(), writes);
}

#[tokio::test(start_paused = true)]
async fn a_cutover_route53_refuses_changes_neither_zone() {
    let (w, target) = synced().await;
    // A CNAME where www already has an A record: Route 53 refuses the whole batch.
    let records =
        json!([{ "name": "www.example.com", "type": "CNAME", "values": ["lb.example.net."] }]);
    let before = w.target.records(&target).expect("target");
    let err = cutover(
        &*w.source,
        &*w.target,
        &w.clock,
        &request(cutover_body(&w, &target, records)),
        &settings(),
    )
    .await
    .expect_err("refused");
    assert_eq!(err.error_type(), "ChangeRejected");
    assert!(err.to_string().contains("CNAME"), "{err}");
    assert_eq!(w.target.records(&target).expect("target"), before);
    assert_eq!(
        w.source.count(ZoneOp::ChangeResourceRecordSets),
        0,
        "stopped at the target"
    );
}

// ---------------------------------------------------------------- finalize

fn final_body(w: &World, target: &str) -> serde_json::Value {
    w.with(
        Some(target),
        json!({ "nsTtl": { "during": 300, "after": 86400 } }),
    )
}

#[tokio::test(start_paused = true)]
async fn finalize_restores_the_ns_ttl_and_removes_both_canaries() {
    let (w, target) = synced().await;
    w.clear_calls();
    let out = finalize(
        &*w.source,
        &*w.target,
        NO_PARENT,
        (&w.ledger, &w.clock),
        &request(final_body(&w, &target)),
        &settings(),
    )
    .await
    .expect("finalized");
    assert_eq!(out.canaries_removed, 2);
    for zone in [
        w.source_records(),
        w.target.records(&target).expect("target"),
    ] {
        assert_eq!(apex_ns(&zone, &w.domain).ttl, Some(86_400));
        assert!(!zone.iter().any(|r| r.name == n("_zonehop.example.com")));
    }
    assert!(out
        .decommission_checklist
        .iter()
        .any(|line| line.contains(w.source_id())));
    assert!(
        w.source.zone(w.source_id()).is_ok(),
        "the old zone is never deleted"
    );
    assert_least_privilege(Work::Finalize, &w);
}

#[tokio::test(start_paused = true)]
async fn finalize_with_health_checks_kept_names_them_in_the_checklist() {
    // GIVEN both zones with a record naming the old account's health check hc-1 (moved
    // with healthChecks "keep").
    let (w, target) = synced().await;
    let checked = failover_pair("hc-1").swap_remove(0);
    for (zones, id) in [
        (&w.source, w.source_id().to_owned()),
        (&w.target, target.clone()),
    ] {
        zones.put_records(&id, [checked.clone()]).expect("zone");
    }
    let mut body = final_body(&w, &target);
    body["healthChecks"] = json!("keep");
    let out = finalize(
        &*w.source,
        &*w.target,
        NO_PARENT,
        (&w.ledger, &w.clock),
        &request(body),
        &settings(),
    )
    .await
    .expect("finalized");
    let line = out
        .decommission_checklist
        .iter()
        .find(|line| line.contains("hc-1"))
        .unwrap_or_else(|| panic!("{:?}", out.decommission_checklist));
    assert!(line.contains("do not delete them"), "{line}");
    assert_least_privilege(Work::Finalize, &w);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_finalize_run_again_writes_nothing() {
    let (w, target) = synced().await;
    finalize(
        &*w.source,
        &*w.target,
        NO_PARENT,
        (&w.ledger, &w.clock),
        &request(final_body(&w, &target)),
        &settings(),
    )
    .await
    .expect("first");
    let writes = w.writes();
    let again = finalize(
        &*w.source,
        &*w.target,
        NO_PARENT,
        (&w.ledger, &w.clock),
        &request(final_body(&w, &target)),
        &settings(),
    )
    .await
    .expect("second");
    assert_eq!(again.canaries_removed, 0);
    assert_eq!(w.writes(), writes);
}

#[tokio::test(start_paused = true)]
async fn finalize_denied_is_named_and_not_retried() {
    let (w, target) = synced().await;
    w.target
        .fail_next(ZoneOp::ChangeResourceRecordSets, 1, Fault::AccessDenied);
    let err = finalize(
        &*w.source,
        &*w.target,
        NO_PARENT,
        (&w.ledger, &w.clock),
        &request(final_body(&w, &target)),
        &settings(),
    )
    .await
    .expect_err("denied");
    assert_eq!(err.error_type(), "AccessDenied");
    assert_eq!(
        w.target.count(ZoneOp::ChangeResourceRecordSets),
        1,
        "not retried"
    );
    assert_eq!(w.source.writes(), 0);
}

// ---------------------------------------------------------------- rollback

fn rollback_body(w: &World, kind: &str) -> serde_json::Value {
    json!({
        "domain": "example.com",
        "source": { "hostedZoneId": w.source_id() },
        "registrar": { "type": kind },
    })
}

#[tokio::test(start_paused = true)]
async fn rollback_points_registration_and_old_apex_ns_back_at_the_old_servers() {
    let (w, target) = synced().await;
    swap(&w, &target, "route53domains").await.expect("swapped");
    w.clear_calls();
    let out = rollback(
        &*w.source,
        &*w.registrar,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(rollback_body(&w, "route53domains")),
        &settings(),
    )
    .await
    .expect("rolled back");
    let old = canonical_servers(&w.source_zone.name_servers);
    assert_eq!(out.name_servers, old);
    assert!(out.registration_changed && out.source_apex_ns_changed);
    assert_eq!(w.registrar.servers_of(&w.domain), Some(old.clone()));
    let apex = apex_ns(&w.source_records(), &w.domain);
    assert_eq!(
        canonical_servers(&apex.values().map(str::to_owned).collect::<Vec<_>>()),
        old
    );
    assert_least_privilege(Work::Rollback, &w);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_rollback_run_again_writes_nothing() {
    let (w, target) = synced().await;
    swap(&w, &target, "route53domains").await.expect("swapped");
    let body = rollback_body(&w, "route53domains");
    rollback(
        &*w.source,
        &*w.registrar,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(body.clone()),
        &settings(),
    )
    .await
    .expect("first");
    let writes = w.writes();
    let again = rollback(
        &*w.source,
        &*w.registrar,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(body),
        &settings(),
    )
    .await
    .expect("second");
    assert!(!again.registration_changed && !again.source_apex_ns_changed);
    assert_eq!(w.writes(), writes);
}

#[tokio::test(start_paused = true)]
async fn rollback_with_a_manual_registrar_names_what_the_operator_must_set() {
    let (w, target) = synced().await;
    swap(&w, &target, "manual").await.expect("swapped");
    let out = rollback(
        &*w.source,
        &*w.registrar,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(rollback_body(&w, "manual")),
        &settings(),
    )
    .await
    .expect("rolled back");
    let action = out.operator_action.expect("an operator action");
    assert!(
        w.source_zone
            .name_servers
            .iter()
            .all(|s| action.contains(s.trim_end_matches('.'))),
        "{action}"
    );
    assert_eq!(w.registrar.writes(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_rollback_whose_registrar_operation_fails_is_named() {
    let (w, target) = synced().await;
    swap(&w, &target, "route53domains").await.expect("swapped");
    w.registrar.fail_next_operations(1);
    let err = rollback(
        &*w.source,
        &*w.registrar,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(rollback_body(&w, "route53domains")),
        &settings(),
    )
    .await
    .expect_err("failed");
    assert_eq!(err.error_type(), "RegistrarOperationFailed");
}

#[tokio::test(start_paused = true)]
async fn rollback_retries_a_throttled_registrar() {
    let (w, target) = synced().await;
    swap(&w, &target, "route53domains").await.expect("swapped");
    w.registrar
        .fail_next(RegistrarOp::UpdateDomainNameservers, 3, Fault::Throttled);
    rollback(
        &*w.source,
        &*w.registrar,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(rollback_body(&w, "route53domains")),
        &settings(),
    )
    .await
    .expect("rolled back after retries");
    assert_eq!(
        w.registrar.count(RegistrarOp::UpdateDomainNameservers),
        4 + 1,
        "1 swap + 3 throttled + 1"
    );
}

// ---------------------------------------------------------------- carry-edits

/// One round of carry-edits, a round's wait after the last.
async fn carry(w: &World, target: &str, ledger: &MemoryLedger) -> CarryOutput {
    w.clock.advance(600);
    carry_edits(
        &*w.source,
        &*w.target,
        ledger,
        &w.clock,
        &request(w.with(Some(target), json!({}))),
        &settings(),
    )
    .await
    .expect("carried")
}

fn without_own(zone: &zonehop::core::zone::Zone) -> Vec<zonehop::core::zone::RecordSet> {
    let apex = n("example.com");
    let own = zonehop::core::drift::own_records(&apex);
    zone.iter().filter(|r| !own(&r.key())).cloned().collect()
}

#[tokio::test(start_paused = true)]
async fn carry_edits_copies_each_sides_edits_to_the_other_and_the_new_side_wins_a_conflict() {
    let (w, target) = synced().await;
    let ledger = MemoryLedger::new();
    let first = carry(&w, &target, &ledger).await;
    assert!(first.first_round);
    assert_eq!(
        (
            first.carried.to_target,
            first.carried.to_source,
            first.carried.conflict_count
        ),
        (0, 0, 0)
    );
    assert_eq!(w.writes(), 0, "zones that agree need no write");

    // An IaC pipeline edits the new zone, external-dns the old one, and both change www.
    w.target
        .put_records(&target, [a("app.example.com", 60, &["192.0.2.40"])])
        .expect("edit");
    w.source
        .put_records(w.source_id(), [a("mail.example.com", 300, &["192.0.2.21"])])
        .expect("edit");
    w.source
        .put_records(w.source_id(), [a("www.example.com", 60, &["192.0.2.98"])])
        .expect("edit");
    w.target
        .put_records(&target, [a("www.example.com", 60, &["192.0.2.99"])])
        .expect("edit");
    w.source
        .remove_record(
            w.source_id(),
            &rr("example.com", RrType::TXT, 300, &["x"]).key(),
        )
        .expect("edit");
    w.clear_calls();
    let second = carry(&w, &target, &ledger).await;
    assert!(!second.first_round);
    assert_eq!(
        second.carried.to_source, 2,
        "{second:?}: app, and www (the conflict)"
    );
    assert_eq!(
        second.carried.to_target, 2,
        "{second:?}: mail, and the TXT's deletion"
    );
    assert_eq!(second.carried.conflict_count, 1);
    let conflict = &second.carried.conflicts[0];
    assert_eq!(conflict.record, "www.example.com. A");
    assert_eq!(
        conflict.source,
        Some(a("www.example.com", 60, &["192.0.2.98"]))
    );
    assert_eq!(
        conflict.target,
        Some(a("www.example.com", 60, &["192.0.2.99"]))
    );
    assert_least_privilege(Work::CarryEdits, &w);
    // One again: the same record sets on both sides, the new side's www.
    let source_now = without_own(&w.source_records());
    let target_now = without_own(&w.target.records(&target).expect("target"));
    assert_eq!(source_now, target_now);
    assert!(target_now.contains(&a("www.example.com", 60, &["192.0.2.99"])));
    assert!(target_now.contains(&a("app.example.com", 60, &["192.0.2.40"])));
    assert!(target_now.contains(&a("mail.example.com", 300, &["192.0.2.21"])));
    assert!(!target_now
        .iter()
        .any(|r| r.name == n("example.com") && r.rtype == RrType::TXT));
    // invariant 3: the next round has nothing to carry and writes nothing.
    w.clear_calls();
    let third = carry(&w, &target, &ledger).await;
    assert_eq!(
        (
            third.carried.to_target,
            third.carried.to_source,
            third.carried.conflict_count
        ),
        (0, 0, 0)
    );
    assert_eq!(w.writes(), 0);
}

#[tokio::test(start_paused = true)]
async fn carry_edits_renames_a_same_zone_alias_for_the_zone_it_lands_in() {
    let (w, target) = synced().await;
    let ledger = MemoryLedger::new();
    carry(&w, &target, &ledger).await;
    let mut alias = a("shop.example.com", 60, &[]);
    alias.resource_records.clear();
    alias.ttl = None;
    alias.alias_target = Some(zonehop::core::zone::AliasTarget {
        hosted_zone_id: target.clone(),
        dns_name: n("www.example.com"),
        evaluate_target_health: false,
    });
    w.target.put_records(&target, [alias]).expect("edit");
    let out = carry(&w, &target, &ledger).await;
    assert_eq!(out.carried.to_source, 1, "{out:?}");
    let copied = w
        .source_records()
        .get(&a("shop.example.com", 60, &[]).key())
        .cloned()
        .expect("carried to the old zone");
    let alias = copied.alias_target.expect("an alias");
    assert_eq!(
        alias.hosted_zone_id,
        w.source_id(),
        "points inside the old zone"
    );
}

#[tokio::test(start_paused = true)]
async fn carry_edits_reads_the_zones_no_more_often_than_their_size_allows() {
    let (w, target) = synced().await;
    let ledger = MemoryLedger::new();
    carry(&w, &target, &ledger).await;
    w.clear_calls();
    // Right after a round: nothing is read (100 record sets: 4 s at a tenth of five a second).
    let soon = carry_edits(
        &*w.source,
        &*w.target,
        &ledger,
        &w.clock,
        &request(w.with(Some(&target), json!({}))),
        &Settings::default(),
    )
    .await
    .expect("skipped");
    assert!(soon.skipped_for_seconds > 0, "{soon:?}");
    assert!(w.source.calls().is_empty() && w.target.calls().is_empty());
    w.clock.advance(soon.skipped_for_seconds);
    let later = carry_edits(
        &*w.source,
        &*w.target,
        &ledger,
        &w.clock,
        &request(w.with(Some(&target), json!({}))),
        &Settings::default(),
    )
    .await
    .expect("read");
    assert_eq!(later.skipped_for_seconds, 0);
    assert!(!w.target.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn carry_edits_without_a_ledger_table_is_not_configured() {
    let settings = Settings::default();
    let err = settings.ledger_table().expect_err("no table");
    assert_eq!(err.error_type(), "NotConfigured");
}

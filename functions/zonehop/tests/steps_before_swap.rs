//! Unit tests of the steps before the swap (preflight, create-zone, delegate-subdomain,
//! sync-records, verify-zones, lower-ns-ttl) on the in-memory twins: for each, the happy
//! path, a re-run that converges without writing (invariant 3), and a failure with its
//! errorType.

mod common;

use zonehop::core::access::Work;

use common::*;
use serde_json::json;
use zonehop::adapters::memory::{Fault, ZoneOp};
use zonehop::adapters::parent_zone::NO_PARENT;
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::steps::create_zone::{create_zone, CreateZoneOutput};
use zonehop::steps::delegate_subdomain::delegate_subdomain;
use zonehop::steps::lower_ns_ttl::lower_ns_ttl;
use zonehop::steps::preflight::preflight;
use zonehop::steps::sync_records::{sync_records, SyncOutput};
use zonehop::steps::verify_zones::verify_zones;

fn preflight_request(w: &World) -> serde_json::Value {
    w.with(
        None,
        json!({
            "keepInSource": [],
            "registrar": { "type": "route53domains" },
            "nsTtl": { "during": 300, "after": 172800 },
            "probe": { "resolvers": ["203.0.113.1", "203.0.113.2"] },
            "executionId": EXECUTION,
        }),
    )
}

async fn run_preflight(
    w: &World,
    body: serde_json::Value,
) -> Result<zonehop::steps::preflight::PreflightOutput, zonehop::Error> {
    preflight(
        w.preflight_ports(&*w.registrar),
        &w.clock,
        &request(body),
        &settings(),
    )
    .await
}

async fn create(w: &World) -> CreateZoneOutput {
    w.create_target().await
}

fn sync_body(w: &World, target_id: &str, keep: &[&str], adopted: bool) -> serde_json::Value {
    json!({
        "domain": "example.com",
        "source": { "hostedZoneId": w.source_id() },
        "target": { "hostedZoneId": target_id, "adopted": adopted },
        "keepInSource": keep,
        "extraRecords": [World::new_canary()],
    })
}

async fn sync(w: &World, target_id: &str, keep: &[&str]) -> Result<SyncOutput, zonehop::Error> {
    sync_records(
        &*w.source,
        &*w.target,
        &w.ledger,
        &w.clock,
        &request(sync_body(w, target_id, keep, false)),
        &settings(),
    )
    .await
}

// ---------------------------------------------------------------- preflight

#[tokio::test(start_paused = true)]
async fn preflight_writes_the_canary_naming_its_execution_once_every_check_passed() {
    let w = World::new();
    w.clear_calls();
    let out = run_preflight(&w, preflight_request(&w))
        .await
        .expect("preflight passes");
    assert!(out.canary_written);
    assert_eq!(out.source_ns_ttl, 172_800);
    assert_eq!(
        out.live_delegation,
        w.source_zone.name_servers.clone().tap_sort()
    );
    let canary = w
        .source_records()
        .iter()
        .find(|r| r.name == n("_zonehop.example.com"))
        .cloned()
        .expect("the canary");
    let values: Vec<&str> = canary.values().collect();
    assert!(values.contains(&"\"side=old\""), "{values:?}");
    assert!(values.contains(&format!("\"execution={EXECUTION}\"").as_str()));
    assert_eq!(w.source.writes(), 1);
    assert_eq!(w.target.writes(), 0);
    assert_least_privilege(Work::Preflight, &w);
}

#[tokio::test(start_paused = true)]
async fn preflight_dry_run_writes_nothing() {
    let w = World::new();
    let mut body = preflight_request(&w);
    body["dryRun"] = json!(true);
    let out = run_preflight(&w, body).await.expect("passes");
    assert!(!out.canary_written);
    assert_eq!(w.writes(), 0);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_preflight_run_again_by_its_execution_makes_no_second_write() {
    let w = World::new();
    run_preflight(&w, preflight_request(&w))
        .await
        .expect("first");
    let before = w.source_records();
    let out = run_preflight(&w, preflight_request(&w))
        .await
        .expect("second");
    assert!(out.canary_written);
    assert_eq!(w.source_records(), before, "converged");
    assert_eq!(
        w.source.writes(),
        1,
        "the canary already held: no second write"
    );
}

#[tokio::test(start_paused = true)]
async fn invariant_7_preflight_refuses_while_another_execution_holds_the_lock() {
    let w = World::new();
    let other = "arn:aws:states:us-east-1:111111111111:execution:zonehop:other";
    let mut body = preflight_request(&w);
    body["executionId"] = json!(other);
    run_preflight(&w, body)
        .await
        .expect("the other execution's preflight");
    w.executions.set_running(other, true);
    let writes = w.writes();

    let err = run_preflight(&w, preflight_request(&w))
        .await
        .expect_err("refused");
    assert_eq!(err.error_type(), "MigrationInProgress");
    assert!(err.to_string().contains(other), "{err}");
    assert_eq!(w.writes(), writes, "nothing written");

    // Once it no longer runs, its lock is taken over with a warning.
    w.executions.set_running(other, false);
    let out = run_preflight(&w, preflight_request(&w))
        .await
        .expect("taken over");
    assert!(out.warnings.iter().any(|x| x.detail.contains("taken over")));
}

#[tokio::test(start_paused = true)]
async fn invariant_7_the_ledgers_lock_holds_even_where_the_canary_is_gone() {
    let w = World::new();
    let other = "arn:aws:states:us-east-1:111111111111:execution:zonehop:other";
    let mut body = preflight_request(&w);
    body["executionId"] = json!(other);
    run_preflight(&w, body).await.expect("the other execution");
    assert_eq!(
        w.ledger.items(&w.domain)["lock"]["execution"],
        json!(other),
        "the lock is in the ledger"
    );
    w.executions.set_running(other, true);
    // Someone deletes the canary by hand: the ledger still refuses a second execution.
    w.source
        .remove_record(
            w.source_id(),
            &rr("_zonehop.example.com", RrType::TXT, 60, &["x"]).key(),
        )
        .expect("canary removed");
    let writes = w.writes();
    let err = run_preflight(&w, preflight_request(&w))
        .await
        .expect_err("refused");
    assert_eq!(err.error_type(), "MigrationInProgress");
    assert_eq!(w.writes(), writes, "nothing written");
    // A dry run reads the lock too, and takes nothing.
    let mut dry = preflight_request(&w);
    dry["dryRun"] = json!(true);
    let err = run_preflight(&w, dry).await.expect_err("refused");
    assert_eq!(err.error_type(), "MigrationInProgress");
    w.executions.set_running(other, false);
    let out = run_preflight(&w, preflight_request(&w))
        .await
        .expect("taken over once the holder ended");
    assert!(out
        .warnings
        .iter()
        .any(|x| x.detail.contains("ledger's lock")));
    assert_eq!(
        w.ledger.items(&w.domain)["lock"]["execution"],
        json!(EXECUTION)
    );
}

#[tokio::test(start_paused = true)]
async fn preflight_blocks_a_signing_zone_before_any_write() {
    let w = World::new();
    w.source
        .set_dnssec_signing(w.source_id(), true)
        .expect("zone");
    let err = run_preflight(&w, preflight_request(&w))
        .await
        .expect_err("blocked");
    assert_eq!(err.error_type(), "MigrationBlocked");
    assert_eq!(w.writes(), 0);
}

#[tokio::test(start_paused = true)]
async fn health_checks_keep_checks_each_one_exists_in_the_source_account_before_any_write() {
    // GIVEN a failover pair whose primary names a health check the source account has not.
    let w = World::new();
    w.source
        .put_records(w.source_id(), failover_pair("hc-gone"))
        .expect("zone");
    let mut body = preflight_request(&w);
    body["healthChecks"] = json!("keep");
    // THEN keep is refused by the record's name, and nothing is written.
    let err = run_preflight(&w, body.clone())
        .await
        .expect_err("a dangling check blocks");
    assert_eq!(err.error_type(), "MigrationBlocked");
    let text = err.to_string();
    assert!(text.contains("HealthCheckMissing"), "{text}");
    assert!(text.contains("app.example.com"), "{text}");
    assert!(text.contains("hc-gone"), "{text}");
    assert_eq!(w.writes(), 0);
    // WHEN the account has it, preflight passes with the warning, having asked for it.
    w.source.add_health_check("hc-gone");
    w.source.clear_calls();
    let out = run_preflight(&w, body).await.expect("keep passes");
    assert_eq!(w.source.count(ZoneOp::GetHealthCheck), 1);
    assert!(
        out.warnings
            .iter()
            .any(|warning| warning.detail.contains("keeps health check hc-gone")),
        "{:?}",
        out.warnings
    );
    assert_least_privilege(Work::Preflight, &w);
}

#[tokio::test(start_paused = true)]
async fn health_checks_keep_moves_the_records_naming_the_same_check() {
    let w = World::new();
    w.source
        .put_records(w.source_id(), failover_pair("hc-1"))
        .expect("zone");
    let target = create(&w).await.hosted_zone_id;
    let mut body = sync_body(&w, &target, &[], false);
    body["healthChecks"] = json!("keep");
    sync_records(
        &*w.source,
        &*w.target,
        &w.ledger,
        &w.clock,
        &request(body),
        &settings(),
    )
    .await
    .expect("synced");
    let moved: Vec<RecordSet> = w
        .target
        .records(&target)
        .expect("target")
        .iter()
        .filter(|r| r.name == n("app.example.com"))
        .cloned()
        .collect();
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert!(moved
        .iter()
        .any(|r| r.health_check_id.as_deref() == Some("hc-1")));
}

// ---------------------------------------------------------------- create-zone

#[tokio::test(start_paused = true)]
async fn a_new_execution_after_a_failure_adopts_the_zones_an_earlier_one_created() {
    let w = World::new();
    let first = create(&w).await;
    let later = "arn:aws:states:us-east-1:111111111111:execution:zonehop:run-2";
    let second = create_zone(
        &*w.target,
        &request(json!({ "domain": "example.com", "target": {}, "executionId": later })),
        &settings(),
    )
    .await
    .expect("adopted, not ZoneAlreadyExists");
    assert_eq!(second.hosted_zone_id, first.hosted_zone_id);
    assert!(!second.created);
    assert_eq!(w.target.count(ZoneOp::CreateHostedZone), 1);
    // The same for the child zone of a kept subdomain: the first execution's is reused.
    let child = w
        .source
        .add_zone_with_reference(&n("dev.example.com"), "zonehop-child-0123");
    let mut body = delegate_body(&w);
    body["executionId"] = json!(later);
    let out = delegate_subdomain(&*w.source, &w.dns, &w.clock, &request(body), &settings())
        .await
        .expect("delegated into the earlier child zone");
    assert_eq!(out.child_zone_id, child.id);
}

#[tokio::test(start_paused = true)]
async fn a_second_execution_after_the_cut_passes_preflight_with_its_kept_name_delegated() {
    // GIVEN a first execution cut dev.example.com into the child zone it made, then failed.
    let w = World::new();
    delegate_subdomain(
        &*w.source,
        &w.dns,
        &w.clock,
        &request(delegate_body(&w)),
        &settings(),
    )
    .await
    .expect("cut");
    // WHEN a second execution of the same request runs preflight
    let mut body = preflight_request(&w);
    body["keepInSource"] = json!(["dev.example.com"]);
    body["executionId"] = json!("arn:aws:states:us-east-1:111111111111:execution:zonehop:run-2");
    let out = run_preflight(&w, body.clone()).await;
    // THEN the delegation to zonehop's own child zone is no blocker: delegate-subdomain
    // adopts the cut.
    assert!(out.is_ok(), "{out:?}");
    // ... while a kept name delegated to other servers still is one.
    let other = RecordSet::simple(
        n("dev.example.com"),
        RrType::NS,
        300,
        &["ns1.elsewhere.net."],
    );
    w.source.put_records(w.source_id(), [other]).expect("put");
    body["executionId"] = json!("arn:aws:states:us-east-1:111111111111:execution:zonehop:run-3");
    let refused = run_preflight(&w, body).await.expect_err("blocked");
    assert!(
        refused.to_string().contains("KeptNameAlreadyDelegated"),
        "{refused}"
    );
}

#[tokio::test(start_paused = true)]
async fn create_zone_creates_a_public_zone_with_its_own_servers() {
    let w = World::new();
    w.clear_calls();
    let out = create(&w).await;
    assert!(out.created && !out.adopted);
    assert_eq!(out.name_servers.len(), 4);
    let zone = w.target.zone(&out.hosted_zone_id).expect("created");
    assert_eq!(zone.name, w.domain);
    assert!(out.caller_reference.starts_with("zonehop-"));
    assert_eq!(w.target.count(ZoneOp::CreateHostedZone), 1);
    assert_least_privilege(Work::CreateZone, &w);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_create_zone_run_again_finds_its_own_zone() {
    let w = World::new();
    let first = create(&w).await;
    let second = create(&w).await;
    assert_eq!(second.hosted_zone_id, first.hosted_zone_id);
    assert!(!second.created);
    assert_eq!(
        w.target.count(ZoneOp::CreateHostedZone),
        1,
        "no second zone"
    );
    assert_eq!(w.target.zones().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn create_zone_retries_throttling_and_creates_one_zone() {
    let w = World::new();
    w.target
        .fail_next(ZoneOp::CreateHostedZone, 2, Fault::Throttled);
    let out = create(&w).await;
    assert!(out.created);
    assert_eq!(w.target.count(ZoneOp::CreateHostedZone), 3);
    assert_eq!(w.target.zones().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn create_zone_refuses_a_second_public_zone_of_the_name() {
    let w = World::new();
    let existing = w.target.add_zone(&w.domain);
    let err = create_zone(
        &*w.target,
        &request(json!({ "domain": "example.com", "target": {}, "executionId": EXECUTION })),
        &settings(),
    )
    .await
    .expect_err("refused");
    assert_eq!(err.error_type(), "ZoneAlreadyExists");
    assert!(err.to_string().contains(&existing.id));
    assert_eq!(w.target.count(ZoneOp::CreateHostedZone), 0);
}

#[tokio::test(start_paused = true)]
async fn create_zone_adopts_a_given_zone_and_refuses_one_of_another_name() {
    let w = World::new();
    let given = w.target.add_zone(&w.domain);
    let out = create_zone(
        &*w.target,
        &request(json!({ "domain": "example.com", "target": { "hostedZoneId": given.id } })),
        &settings(),
    )
    .await
    .expect("adopted");
    assert!(out.adopted && !out.created);
    let other = w.target.add_zone(&n("example.org"));
    let err = create_zone(
        &*w.target,
        &request(json!({ "domain": "example.com", "target": { "hostedZoneId": other.id } })),
        &settings(),
    )
    .await
    .expect_err("wrong zone");
    assert_eq!(err.error_type(), "ZoneNameMismatch");
    assert_eq!(w.target.writes(), 0);
}

// ---------------------------------------------------------------- delegate-subdomain

fn delegate_body(w: &World) -> serde_json::Value {
    json!({
        "domain": "example.com",
        "source": { "hostedZoneId": w.source_id() },
        "subdomain": "dev.example.com",
        "executionId": EXECUTION,
        "delegationTtl": 300,
    })
}

#[tokio::test(start_paused = true)]
async fn invariant_2_delegate_subdomain_moves_the_subtree_in_one_change_after_the_child_answers_alike(
) {
    let w = World::new();
    w.clear_calls();
    let out = delegate_subdomain(
        &*w.source,
        &w.dns,
        &w.clock,
        &request(delegate_body(&w)),
        &settings(),
    )
    .await
    .expect("delegated");
    assert!(!out.already_delegated);
    assert_eq!(out.moved_records, 2);
    let parent = w.source_records();
    let delegation = parent
        .iter()
        .find(|r| r.name == n("dev.example.com") && r.rtype == RrType::NS)
        .expect("a delegation");
    assert_eq!(delegation.ttl, Some(300));
    assert!(
        !parent
            .iter()
            .any(|r| r.name.is_at_or_below(&n("dev.example.com")) && r.rtype != RrType::NS),
        "the moved records left the parent"
    );
    let child = w.source.records(&out.child_zone_id).expect("child zone");
    assert!(child.iter().any(|r| r.name == n("api.dev.example.com")));
    // The parent got exactly one change: the cut.
    assert_eq!(w.source.writes_to(w.source_id()), 1);
    // Both sides were asked over DNS before the cut.
    assert!(w
        .dns
        .queries()
        .iter()
        .any(|q| q.name == n("api.dev.example.com") && !q.recursion));
    assert_least_privilege(Work::DelegateSubdomain, &w);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_delegate_subdomain_run_again_finds_the_cut_made() {
    let w = World::new();
    let body = delegate_body(&w);
    let first = delegate_subdomain(
        &*w.source,
        &w.dns,
        &w.clock,
        &request(body.clone()),
        &settings(),
    )
    .await
    .expect("first");
    let writes = w.source.writes();
    let second = delegate_subdomain(&*w.source, &w.dns, &w.clock, &request(body), &settings())
        .await
        .expect("second");
    assert!(second.already_delegated);
    assert_eq!(second.child_zone_id, first.child_zone_id);
    assert_eq!(second.reverse_change, first.reverse_change);
    assert_eq!(w.source.writes(), writes, "no write on the re-run");
}

#[tokio::test(start_paused = true)]
async fn delegate_subdomain_refuses_an_alias_across_the_cut_before_any_write() {
    let w = World::new();
    let alias = RecordSet::alias(
        n("web.dev.example.com"),
        RrType::A,
        zonehop::core::zone::AliasTarget {
            hosted_zone_id: w.source_id().to_owned(),
            dns_name: n("www.example.com"),
            evaluate_target_health: false,
        },
    );
    w.source.put_records(w.source_id(), [alias]).expect("zone");
    let err = delegate_subdomain(
        &*w.source,
        &w.dns,
        &w.clock,
        &request(delegate_body(&w)),
        &settings(),
    )
    .await
    .expect_err("blocked");
    assert_eq!(err.error_type(), "MigrationBlocked");
    assert_eq!(w.source.writes(), 0);
    assert_eq!(w.source.zones().len(), 1, "no child zone either");
}

#[tokio::test(start_paused = true)]
async fn delegate_subdomain_gives_up_on_persistent_throttling_after_the_policys_attempts() {
    let w = World::new();
    w.source
        .fail_next(ZoneOp::ListHostedZonesByName, 1_000, Fault::Throttled);
    let err = delegate_subdomain(
        &*w.source,
        &w.dns,
        &w.clock,
        &request(delegate_body(&w)),
        &settings(),
    )
    .await
    .expect_err("throttled");
    assert_eq!(err.error_type(), "Throttled");
    assert_eq!(
        w.source.count(ZoneOp::ListHostedZonesByName),
        settings().retry.max_attempts as usize,
        "each call retried by one Retrying, not by two nested ones"
    );
    assert_eq!(w.source.writes(), 0);
}

// ---------------------------------------------------------------- sync-records

#[tokio::test(start_paused = true)]
async fn sync_records_copies_every_record_but_the_apex_soa_ns_and_adds_the_canary() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    w.clear_calls();
    let out = sync(&w, &target, &[]).await.expect("synced");
    assert!(out.in_sync);
    let copied = w.target.records(&target).expect("target");
    for record in example_records() {
        let got = copied.get(&record.key()).expect("copied");
        assert!(got.same_content(&record), "{}", record.key());
    }
    assert!(copied.get(&World::new_canary().key()).is_some());
    let apex = apex_ns(&copied, &w.domain);
    let own: Vec<String> = w.target.zone(&target).expect("zone").name_servers;
    assert!(
        apex.values().all(|v| own.iter().any(|s| s == v)),
        "keeps its own NS"
    );
    assert_eq!(out.change_calls, 1);
    assert_least_privilege(Work::SyncRecords, &w);
}

#[tokio::test(start_paused = true)]
async fn invariant_3_sync_records_run_again_makes_no_change_call() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    sync(&w, &target, &[]).await.expect("first");
    let writes = w.target.writes_to(&target);
    let out = sync(&w, &target, &[]).await.expect("second");
    assert_eq!(out.change_calls, 0);
    assert_eq!(w.target.writes_to(&target), writes);
}

#[tokio::test(start_paused = true)]
async fn sync_records_of_a_large_zone_pages_and_batches_within_route53s_limits() {
    let w = World::new();
    let many: Vec<RecordSet> = (0..1_500)
        .map(|i| a(&format!("h{i}.example.com"), 60, &["192.0.2.1"]))
        .collect();
    w.source.put_records(w.source_id(), many).expect("zone");
    let target = create(&w).await.hosted_zone_id;
    let out = sync(&w, &target, &[]).await.expect("synced");
    assert!(out.change_calls >= 2, "{out:?}");
    assert_eq!(out.change_calls, out.change_calls_lower_bound);
    assert_eq!(
        w.target.records(&target).expect("target").len(),
        1_500 + example_records().len() + 3
    );
    assert!(
        w.source.count(ZoneOp::ListResourceRecordSets) >= 6,
        "pages of 300"
    );
}

#[tokio::test(start_paused = true)]
async fn sync_records_leaves_a_kept_subtree_behind_but_its_delegation_moves() {
    let w = World::new();
    delegate_subdomain(
        &*w.source,
        &w.dns,
        &w.clock,
        &request(delegate_body(&w)),
        &settings(),
    )
    .await
    .expect("delegated");
    let target = create(&w).await.hosted_zone_id;
    sync(&w, &target, &["dev.example.com"])
        .await
        .expect("synced");
    let copied = w.target.records(&target).expect("target");
    assert!(copied
        .iter()
        .any(|r| r.name == n("dev.example.com") && r.rtype == RrType::NS));
    assert!(!copied.iter().any(|r| r.name == n("api.dev.example.com")));
}

#[tokio::test(start_paused = true)]
async fn sync_records_stops_before_overwriting_an_adopted_zones_records() {
    let w = World::new();
    let adopted = w.target.add_zone(&w.domain);
    w.target
        .put_records(&adopted.id, [a("www.example.com", 60, &["198.51.100.99"])])
        .expect("zone");
    let err = sync_records(
        &*w.source,
        &*w.target,
        &w.ledger,
        &w.clock,
        &request(sync_body(&w, &adopted.id, &[], true)),
        &settings(),
    )
    .await
    .expect_err("refused");
    assert_eq!(err.error_type(), "OverwriteLimitExceeded");
    assert!(err.to_string().contains("www.example.com"), "{err}");
    assert_eq!(w.target.writes(), 0);
}

// ---------------------------------------------------------------- verify-zones

fn verify_body(w: &World, target: &str) -> serde_json::Value {
    w.with(Some(target), json!({ "keepInSource": [] }))
}

#[tokio::test(start_paused = true)]
async fn verify_zones_finds_no_difference_after_the_sync_and_writes_nothing() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    sync(&w, &target, &[]).await.expect("synced");
    w.clear_calls();
    let writes = w.writes();
    let out = verify_zones(
        &*w.source,
        &*w.target,
        &w.dns,
        &request(verify_body(&w, &target)),
        &settings(),
    )
    .await
    .expect("alike");
    assert_eq!(out.servers, 8);
    assert!(out.rrsets_compared >= 6, "{out:?}");
    assert_eq!(out.queries, out.rrsets_compared * 8);
    // invariant 3: run again, same verdict, still no write.
    let again = verify_zones(
        &*w.source,
        &*w.target,
        &w.dns,
        &request(verify_body(&w, &target)),
        &settings(),
    )
    .await
    .expect("alike again");
    assert_eq!(again.rrsets_compared, out.rrsets_compared);
    assert_eq!(w.writes(), writes);
    assert_least_privilege(Work::VerifyZones, &w);
}

#[tokio::test(start_paused = true)]
async fn invariant_1_verify_zones_reports_a_record_the_new_servers_answer_differently() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    sync(&w, &target, &[]).await.expect("synced");
    // Someone edits the target behind the sync's back.
    w.target
        .put_records(&target, [a("www.example.com", 60, &["192.0.2.99"])])
        .expect("zone");
    let err = verify_zones(
        &*w.source,
        &*w.target,
        &w.dns,
        &request(verify_body(&w, &target)),
        &settings(),
    )
    .await
    .expect_err("differs");
    assert_eq!(err.error_type(), "ZonesDiffer");
    let zonehop::Error::ZonesDiffer { differences } = err else {
        unreachable!()
    };
    assert!(differences
        .iter()
        .all(|d| d.name == "www.example.com." && d.server.starts_with("new")));
    assert_eq!(differences.len(), 4, "one per new server");
}

/// Issue #22: servers that publish AAAA addresses are asked on them too, and a server that
/// answers wrongly over IPv6 only is a difference; from a host without an IPv6 route they
/// are left out with a warning, not failed.
#[tokio::test(start_paused = true)]
async fn verify_zones_asks_the_servers_over_ipv6_where_they_publish_aaaa() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    sync(&w, &target, &[]).await.expect("synced");
    w.dns.publish_ipv6(true);
    let verify = || async {
        verify_zones(
            &*w.source,
            &*w.target,
            &w.dns,
            &request(verify_body(&w, &target)),
            &settings(),
        )
        .await
    };
    let out = verify().await.expect("alike over both");
    assert_eq!((out.servers, out.ipv6_servers), (16, 8), "{out:?}");
    assert_eq!(out.queries, out.rrsets_compared * 16);
    let new_server = zonehop::core::name::Name::parse(
        &w.target
            .zones()
            .into_iter()
            .find(|z| z.id == target)
            .expect("zone")
            .name_servers[0],
    )
    .expect("a name");
    let v6 = std::net::SocketAddr::new(
        zonehop::adapters::memory::MemoryZones::server_address6(&new_server).expect("v6"),
        53,
    );
    assert!(w.dns.queries_to(v6) >= out.rrsets_compared, "asked on {v6}");
    // That server lies over IPv6 only.
    lie_about(&w.dns, v6, "www.example.com");
    let err = verify().await.expect_err("a lie over IPv6");
    let zonehop::Error::ZonesDiffer { differences } = err else {
        panic!("{err:?}")
    };
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(
        differences[0].server.contains(&v6.ip().to_string()),
        "{differences:?}"
    );
    // From a host with no IPv6 route: IPv4 only, said in a warning.
    w.dns.set_ipv6_route(false);
    let v4_only = verify().await.expect("the lie is not reachable from here");
    assert_eq!((v4_only.servers, v4_only.ipv6_servers), (8, 0));
    assert!(
        v4_only.warnings.iter().any(|x| x.contains("no IPv6 route")),
        "{:?}",
        v4_only.warnings
    );
}

/// verify-zones asks and judges `COMPARE_CHUNK` questions at a time (its memory stays flat
/// with the zone's size): every chunk counts, a difference in the last one included.
#[tokio::test(start_paused = true)]
async fn the_comparison_judges_every_chunk_of_more_questions_than_one() {
    use zonehop::core::answers::Question;
    use zonehop::ports::dns::compare::{compare_over_dns, Server, COMPARE_CHUNK};
    let dns = zonehop::adapters::memory::ScriptedDns::new();
    let (old, new) = (addr("192.0.2.201:53"), addr("192.0.2.202:53"));
    let last = format!("h{:05}.example.com", COMPARE_CHUNK + 49);
    let lie = last.clone();
    dns.serve_any_with(std::sync::Arc::new(move |server, name, _| {
        let value = if server == new && name.as_str() == format!("{lie}.") {
            "192.0.2.99"
        } else {
            "192.0.2.40"
        };
        Some(answer(
            vec![record(name.as_str(), "A", 60, value)],
            Vec::new(),
        ))
    }));
    let questions: Vec<Question> = (0..COMPARE_CHUNK + 50)
        .map(|i| Question::exact(n(&format!("h{i:05}.example.com")), RrType::A, false))
        .collect();
    let server = |label: &str, addr| Server {
        label: label.to_owned(),
        addr,
    };
    let compared = compare_over_dns(
        &dns,
        &[server("old a", old)],
        &[server("new b", new)],
        &questions,
        16,
        None,
    )
    .await;
    assert_eq!(compared.queries, questions.len() * 2);
    assert_eq!(compared.differences.len(), 1, "{:?}", compared.differences);
    assert_eq!(compared.differences[0].name, format!("{last}."));
}

#[tokio::test(start_paused = true)]
async fn verify_zones_fails_when_a_server_name_does_not_resolve() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    sync(&w, &target, &[]).await.expect("synced");
    w.dns.set_silent(addr(RESOLVER), true);
    let err = verify_zones(
        &*w.source,
        &*w.target,
        &w.dns,
        &request(verify_body(&w, &target)),
        &settings(),
    )
    .await
    .expect_err("no resolver");
    assert_eq!(err.error_type(), "DnsLookupFailed");
}

// ---------------------------------------------------------------- lower-ns-ttl

fn both_zones(w: &World, target: &str) -> serde_json::Value {
    w.with(
        Some(target),
        json!({ "nsTtl": { "during": 300, "after": 172800 } }),
    )
}

#[tokio::test(start_paused = true)]
async fn lower_ns_ttl_sets_both_apex_ns_ttls_and_reports_the_old_one_to_wait_out() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    w.clear_calls();
    let out = lower_ns_ttl(
        &*w.source,
        &*w.target,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(both_zones(&w, &target)),
        &settings(),
    )
    .await
    .expect("lowered");
    assert_eq!(out.previous_source_ttl, 172_800);
    assert_eq!(out.wait_seconds, 172_800);
    assert_eq!(apex_ns(&w.source_records(), &w.domain).ttl, Some(300));
    assert_eq!(
        apex_ns(&w.target.records(&target).expect("target"), &w.domain).ttl,
        Some(300)
    );
    assert_eq!(
        apex_ns(&w.source_records(), &w.domain).values().count(),
        4,
        "values kept"
    );
    assert_least_privilege(Work::LowerNsTtl, &w);
}

#[tokio::test(start_paused = true)]
async fn a_new_execution_waits_out_the_original_ns_ttl_the_ledger_remembers() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    let body = both_zones(&w, &target);
    let first = lower_ns_ttl(
        &*w.source,
        &*w.target,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(body.clone()),
        &settings(),
    )
    .await
    .expect("lowered");
    assert_eq!(first.wait_seconds, 172_800);
    // The first execution fails an hour later; a new one lowers again and finds 300.
    w.clock.advance(3_600);
    let second = lower_ns_ttl(
        &*w.source,
        &*w.target,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(body),
        &settings(),
    )
    .await
    .expect("already lowered");
    assert_eq!(second.previous_source_ttl, 300);
    assert_eq!(
        second.wait_seconds,
        172_800 - 3_600,
        "what resolvers may still hold since the first lowering"
    );
}

#[tokio::test(start_paused = true)]
async fn invariant_3_lower_ns_ttl_run_again_writes_nothing() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    let body = both_zones(&w, &target);
    lower_ns_ttl(
        &*w.source,
        &*w.target,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(body.clone()),
        &settings(),
    )
    .await
    .expect("first");
    let writes = w.writes();
    let again = lower_ns_ttl(
        &*w.source,
        &*w.target,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(body),
        &settings(),
    )
    .await
    .expect("second");
    assert_eq!(again.previous_source_ttl, 300);
    assert_eq!(w.writes(), writes);
}

#[tokio::test(start_paused = true)]
async fn lower_ns_ttl_gives_up_on_persistent_throttling_with_a_retryable_error_type() {
    let w = World::new();
    let target = create(&w).await.hosted_zone_id;
    w.source
        .fail_next(ZoneOp::ChangeResourceRecordSets, 8, Fault::Throttled);
    let err = lower_ns_ttl(
        &*w.source,
        &*w.target,
        NO_PARENT,
        &w.ledger,
        &w.clock,
        &request(both_zones(&w, &target)),
        &settings(),
    )
    .await
    .expect_err("throttled");
    assert_eq!(err.error_type(), "Throttled");
    assert!(err.is_transient());
    assert_eq!(w.source.count(ZoneOp::ChangeResourceRecordSets), 8);
    assert_eq!(apex_ns(&w.source_records(), &w.domain).ttl, Some(172_800));
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<String> {
    fn tap_sort(mut self) -> Self {
        self.sort();
        self
    }
}

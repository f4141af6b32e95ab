//! `registrar.type: route53zone`: the domain's parent is a hosted zone (here `com.`, in an
//! account of its own), and the delegation is that zone's NS record for the domain. The
//! steps that touch it, on the in-memory twins: preflight's refusal, lower-ns-ttl lowering
//! the parent's TTL, the swap as one change, rollback restoring the record exactly.

mod common;

use common::*;
use serde_json::json;
use zonehop::adapters::memory::{MemoryZones, ZoneOp};
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::ports::ledger::Ledger;
use zonehop::ports::parent_zone::{ParentZone, PARENT_NS_TTL as LEDGER_ITEM};
use zonehop::ports::registrar::Registrar;
use zonehop::steps::lower_ns_ttl::lower_ns_ttl;
use zonehop::steps::preflight::preflight;
use zonehop::steps::rollback::rollback;
use zonehop::steps::swap_nameservers::swap_nameservers;

/// The parent zone `com.` delegating example.com to `servers` with a TTL of 172,800 s.
fn parent_delegating(servers: &[String]) -> (ParentZone<MemoryZones>, String) {
    let zones = MemoryZones::new();
    let zone = zones.add_zone(&n("com."));
    let values: Vec<&str> = servers.iter().map(String::as_str).collect();
    zones
        .put_records(
            &zone.id,
            [RecordSet::simple(
                n("example.com"),
                RrType::NS,
                172_800,
                &values,
            )],
        )
        .expect("parent zone");
    (ParentZone::new(zones, &zone.id), zone.id)
}

fn sorted(mut servers: Vec<String>) -> Vec<String> {
    servers.sort();
    servers
}

fn delegation(parent: &ParentZone<MemoryZones>) -> Option<RecordSet> {
    parent
        .zones()
        .records(parent.zone_id())
        .expect("parent zone")
        .iter()
        .find(|r| r.name == n("example.com") && r.rtype == RrType::NS)
        .cloned()
}

fn registrar(parent_id: &str, lower: bool) -> serde_json::Value {
    json!({ "type": "route53zone", "hostedZoneId": parent_id, "lowerNsTtl": lower })
}

#[tokio::test(start_paused = true)]
async fn the_swap_is_one_change_on_the_parent_keeping_its_ttl_and_removing_a_ds() {
    let w = World::new();
    let (parent, parent_id) = parent_delegating(&w.source_zone.name_servers);
    parent
        .zones()
        .put_records(
            &parent_id,
            [RecordSet::simple(
                n("example.com"),
                RrType::DS,
                3_600,
                &["12345 13 2 ABCDEF"],
            )],
        )
        .expect("a DS");
    let new_servers = vec!["ns-9.new.test.".to_owned(), "ns-10.new.test.".to_owned()];
    let change = parent
        .update_name_servers(&n("example.com"), &new_servers)
        .await
        .expect("updated");
    let ns = delegation(&parent).expect("the delegation");
    assert_eq!(
        ns.values().collect::<Vec<_>>(),
        ["ns-10.new.test.", "ns-9.new.test."]
    );
    assert_eq!(ns.ttl, Some(172_800), "the TTL in force is kept");
    let records = parent.zones().records(&parent_id).expect("parent");
    assert!(
        !records.iter().any(|r| r.rtype == RrType::DS),
        "the DS left with the old servers"
    );
    assert_eq!(
        parent.zones().writes_to(&parent_id),
        1,
        "NS and DS in one atomic change"
    );
    let status = loop {
        let status = parent.operation_status(&change).await.expect("status");
        if status != "IN_PROGRESS" {
            break status;
        }
    };
    assert_eq!(status, "SUCCESSFUL");
    assert_eq!(
        parent.name_servers(&n("example.com")).await.expect("read"),
        sorted(new_servers.clone())
    );
}

#[tokio::test(start_paused = true)]
async fn a_zone_that_is_not_a_parent_of_the_domain_is_refused_before_any_write() {
    // Another domain's zone, and the domain's own zone (not its parent).
    for name in ["example.org.", "example.com."] {
        let zones = MemoryZones::new();
        let zone = zones.add_zone(&n(name));
        let parent = ParentZone::new(zones, &zone.id);
        let err = parent
            .update_name_servers(&n("example.com"), &["ns.new.test.".to_owned()])
            .await
            .expect_err("not a parent");
        assert_eq!(err.error_type(), "InvalidRequest", "{err}");
        assert!(
            err.to_string().contains("not a parent of example.com"),
            "{err}"
        );
        let writes = parent
            .zones()
            .calls()
            .iter()
            .filter(|c| c.op == ZoneOp::ChangeResourceRecordSets)
            .count();
        assert_eq!(writes, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn preflight_refuses_a_parent_that_delegates_elsewhere_whatever_the_stale_source_reason() {
    let w = World::new();
    let (parent, parent_id) = parent_delegating(&["ns.elsewhere.test.".to_owned()]);
    let body = w.with(
        None,
        json!({
            "registrar": registrar(&parent_id, true),
            "probe": { "resolvers": ["203.0.113.1"] },
            "staleSourceReason": "a reason that would accept a stale registration",
            "executionId": EXECUTION,
        }),
    );
    let err = preflight(
        w.preflight_ports(&parent),
        &w.clock,
        &request(body),
        &settings(),
    )
    .await
    .expect_err("refused");
    let text = err.to_string();
    assert_eq!(err.error_type(), "MigrationBlocked", "{text}");
    assert!(text.contains("ParentDoesNotDelegate"), "{text}");
    assert!(text.contains("ns.elsewhere.test."), "{text}");
    assert_eq!(w.writes(), 0, "nothing written");
}

#[tokio::test(start_paused = true)]
async fn preflight_reads_the_parent_zone_as_the_registration_and_times_the_lowered_window() {
    let w = World::new();
    let (parent, parent_id) = parent_delegating(&w.source_zone.name_servers);
    let body = w.with(
        None,
        json!({
            "registrar": registrar(&parent_id, true),
            "nsTtl": { "during": 60, "after": 172800 },
            "probe": { "resolvers": ["203.0.113.1"] },
            "executionId": EXECUTION,
        }),
    );
    let out = preflight(
        w.preflight_ports(&parent),
        &w.clock,
        &request(body),
        &settings(),
    )
    .await
    .expect("passes");
    assert_eq!(out.registration, sorted(w.source_zone.name_servers.clone()));
    let window = out
        .timeline
        .iter()
        .find(|wait| wait.step == "check-propagation")
        .expect("the window");
    // The scripted parent gives its NS a TTL of PARENT_NS_TTL (172,800 s); lowered, 60 s.
    let largest_record_ttl = w
        .source_records()
        .iter()
        .filter_map(|r| r.ttl)
        .max()
        .expect("records");
    assert_eq!(
        window.seconds,
        60 + largest_record_ttl.max(60),
        "the parent's part of the window is the lowered TTL: {window:?}"
    );
    let lower = &out.timeline[0];
    assert_eq!(
        lower.seconds,
        i64::from(PARENT_NS_TTL),
        "the old delegation is waited out before the swap: {lower:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn lower_swap_and_rollback_leave_the_parents_record_exactly_as_it_was() {
    let w = World::new();
    let (parent, parent_id) = parent_delegating(&w.source_zone.name_servers);
    let original = delegation(&parent).expect("the delegation");
    let target = w.target.add_zone(&w.domain);
    w.target
        .put_records(
            &target.id,
            [RecordSet::simple(
                n("example.com"),
                RrType::NS,
                172_800,
                &target
                    .name_servers
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )],
        )
        .expect("target apex NS");
    let body = |extra: serde_json::Value| {
        let mut body = w.with(
            Some(&target.id),
            json!({ "registrar": registrar(&parent_id, true) }),
        );
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let lowered = lower_ns_ttl(
        &*w.source,
        &*w.target,
        Some(&parent),
        &w.ledger,
        &w.clock,
        &request(body(json!({ "nsTtl": { "during": 60, "after": 172800 } }))),
        &settings(),
    )
    .await
    .expect("lowered");
    assert_eq!(lowered.previous_parent_ttl, Some(172_800));
    assert_eq!(
        lowered.wait_seconds, 172_800,
        "the larger old TTL is waited out"
    );
    assert_eq!(delegation(&parent).expect("delegation").ttl, Some(60));
    let remembered = w
        .ledger
        .read(&w.domain, LEDGER_ITEM)
        .await
        .expect("ledger")
        .expect("remembered");
    assert_eq!(remembered["original"], 172_800);

    let swapped = swap_nameservers(
        &*w.source,
        &*w.target,
        &parent,
        &w.ledger,
        &w.clock,
        &request(body(json!({}))),
        &settings(),
    )
    .await
    .expect("swapped");
    assert!(swapped.registration_changed);
    let now = delegation(&parent).expect("delegation");
    assert_eq!(
        now.values().collect::<Vec<_>>(),
        sorted(target.name_servers.clone())
    );
    assert_eq!(
        now.ttl,
        Some(60),
        "the lowered TTL stays through the window"
    );

    let back = rollback(
        &*w.source,
        &parent,
        Some(&parent),
        &w.ledger,
        &w.clock,
        &request(json!({
            "domain": "example.com",
            "source": { "hostedZoneId": w.source_id() },
            "registrar": registrar(&parent_id, true),
        })),
        &settings(),
    )
    .await
    .expect("rolled back");
    assert!(back.registration_changed);
    assert_eq!(
        delegation(&parent),
        Some(original),
        "the parent's NS record exactly as before: servers and TTL"
    );
}

#[test]
fn registrar_fields_are_checked_by_kind() {
    use zonehop::core::request::RegistrarRef;
    let parse = |v: serde_json::Value| {
        serde_json::from_value::<RegistrarRef>(v)
            .expect("shape")
            .validate()
            .map_err(|e| e.to_string())
    };
    assert!(parse(json!({"type": "route53zone", "hostedZoneId": "/hostedzone/Z0PARENT"})).is_ok());
    let missing = parse(json!({"type": "route53zone"})).expect_err("no zone");
    assert!(
        missing.contains("registrar.hostedZoneId is required"),
        "{missing}"
    );
    let bad = parse(json!({"type": "route53zone", "hostedZoneId": "Z 1;"})).expect_err("bad id");
    assert!(bad.contains("not a hosted zone id"), "{bad}");
    let misplaced = parse(json!({"type": "route53domains", "hostedZoneId": "Z1"}))
        .expect_err("not for route53domains");
    assert!(misplaced.contains("for type route53zone"), "{misplaced}");
    let lower = parse(json!({"type": "manual", "lowerNsTtl": true})).expect_err("not for manual");
    assert!(lower.contains("cannot be changed"), "{lower}");
}

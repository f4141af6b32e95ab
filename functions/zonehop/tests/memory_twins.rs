//! The in-memory twins behave as the services they stand for: Route 53 refuses what it
//! refuses, all or nothing; pages and INSYNC as Route 53 does; the registrar's operations
//! move through their statuses; scripted DNS answers, falls silent, and serves zones.

mod common;

use std::sync::Arc;

use common::*;
use zonehop::adapters::memory::{
    zone_answer, Fault, MemoryRegistrar, MemoryZones, ScriptedDns, ZoneOp,
};
use zonehop::core::change::{Action, Change};
use zonehop::core::zone::{AliasTarget, RecordSet, RrType};
use zonehop::ports::dns::DnsClient;
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::ports::registrar::Registrar;

fn change(action: Action, record: RecordSet) -> Change {
    Change { action, record }
}

fn zones_with(records: Vec<RecordSet>) -> (MemoryZones, String) {
    let zones = MemoryZones::new();
    let zone = zones.add_zone(&n("example.com"));
    zones.put_records(&zone.id, records).expect("zone");
    (zones, zone.id)
}

async fn refused(zones: &MemoryZones, id: &str, changes: &[Change]) -> String {
    let before = zones.records(id).expect("zone");
    let err = zones
        .change_records(id, changes, "test")
        .await
        .expect_err("refused");
    assert_eq!(err.error_type(), "ChangeRejected");
    assert_eq!(zones.records(id).expect("zone"), before, "all or nothing");
    err.to_string()
}

#[tokio::test]
async fn a_new_zone_has_four_servers_of_its_own_an_apex_soa_and_ns() {
    let zones = MemoryZones::new();
    let one = zones.add_zone(&n("example.com"));
    let two = zones.add_zone(&n("example.org"));
    assert_eq!(one.name_servers.len(), 4);
    assert!(one
        .name_servers
        .iter()
        .all(|s| !two.name_servers.contains(s)));
    let records = zones.records(&one.id).expect("zone");
    assert_eq!(apex_ns(&records, &n("example.com")).values().count(), 4);
    assert!(records.iter().any(|r| r.rtype == RrType::SOA));
    let other_account = MemoryZones::new().add_zone(&n("example.com"));
    assert_ne!(
        other_account.id, one.id,
        "zone ids are unique, as in Route 53"
    );
}

#[tokio::test]
async fn route53_refuses_creating_what_exists_and_deleting_what_does_not_match() {
    let www = a("www.example.com", 60, &["192.0.2.1"]);
    let (zones, id) = zones_with(vec![www.clone()]);
    let message = refused(&zones, &id, &[change(Action::Create, www.clone())]).await;
    assert!(message.contains("already exists"), "{message}");
    let missing = a("nope.example.com", 60, &["192.0.2.1"]);
    let message = refused(&zones, &id, &[change(Action::Delete, missing)]).await;
    assert!(message.contains("not found"), "{message}");
    let other_ttl = a("www.example.com", 300, &["192.0.2.1"]);
    let message = refused(&zones, &id, &[change(Action::Delete, other_ttl)]).await;
    assert!(message.contains("do not match"), "{message}");
    // All or nothing: a good change beside a bad one is not applied either.
    let good = a("new.example.com", 60, &["192.0.2.2"]);
    refused(
        &zones,
        &id,
        &[
            change(Action::Create, good),
            change(Action::Create, www.clone()),
        ],
    )
    .await;
    // What matches is deleted.
    zones
        .change_records(&id, &[change(Action::Delete, www.clone())], "ok")
        .await
        .expect("deleted");
    assert!(zones.records(&id).expect("zone").get(&www.key()).is_none());
}

#[tokio::test]
async fn route53_refuses_a_cname_beside_other_data_and_the_apex_soa_ns_deleted() {
    let (zones, id) = zones_with(vec![a("www.example.com", 60, &["192.0.2.1"])]);
    let cname = rr("www.example.com", RrType::CNAME, 60, &["lb.example.net."]);
    let message = refused(&zones, &id, &[change(Action::Create, cname)]).await;
    assert!(message.contains("CNAME"), "{message}");
    let ns = apex_ns(&zones.records(&id).expect("zone"), &n("example.com"));
    refused(&zones, &id, &[change(Action::Delete, ns)]).await;
    let outside = a("www.example.org", 60, &["192.0.2.1"]);
    refused(&zones, &id, &[change(Action::Create, outside)]).await;
}

#[tokio::test]
async fn route53_refuses_a_same_zone_alias_to_nothing() {
    let (zones, id) = zones_with(Vec::new());
    let alias = RecordSet::alias(
        n("web.example.com"),
        RrType::A,
        AliasTarget {
            hosted_zone_id: id.clone(),
            dns_name: n("www.example.com"),
            evaluate_target_health: false,
        },
    );
    refused(&zones, &id, &[change(Action::Create, alias.clone())]).await;
    // Target first, in the same batch: accepted.
    zones
        .change_records(
            &id,
            &[
                change(Action::Create, a("www.example.com", 60, &["192.0.2.1"])),
                change(Action::Create, alias),
            ],
            "ok",
        )
        .await
        .expect("accepted");
}

#[tokio::test]
async fn route53_counts_an_upsert_twice_against_the_batch_limits() {
    let (zones, id) = zones_with(Vec::new());
    let values: Vec<String> = (0..300).map(|i| format!("192.0.2.{}", i % 250)).collect();
    let big = |name: &str| {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        a(name, 60, &refs)
    };
    // 4 x 300 = 1,200 values: over 1,000.
    let creates: Vec<Change> = (0..4)
        .map(|i| change(Action::Create, big(&format!("h{i}.example.com"))))
        .collect();
    refused(&zones, &id, &creates).await;
    zones
        .change_records(&id, &creates[..3], "900 values")
        .await
        .expect("900 values fit");
    // Two UPSERTs of 300 values count 1,200.
    let upserts: Vec<Change> = (0..2)
        .map(|i| change(Action::Upsert, big(&format!("u{i}.example.com"))))
        .collect();
    let message = refused(&zones, &id, &upserts).await;
    assert!(message.contains("1200 values"), "{message}");
}

#[tokio::test]
async fn pages_of_300_in_route53s_order_read_back_the_whole_zone() {
    let records: Vec<RecordSet> = (0..700)
        .map(|i| a(&format!("h{i:03}.example.com"), 60, &["192.0.2.1"]))
        .collect();
    let (zones, id) = zones_with(records);
    let first = zones.list_records_page(&id, None).await.expect("page");
    assert_eq!(first.records.len(), 300);
    assert_eq!(first.records[0].name, n("example.com"), "the apex first");
    let zone = read_zone(&zones, &id).await.expect("zone");
    assert_eq!(zone.len(), 702);
    assert_eq!(zones.count(ZoneOp::ListResourceRecordSets), 1 + 3);
}

#[tokio::test]
async fn a_change_is_insync_after_the_configured_polls_and_faults_come_first() {
    let (zones, id) = zones_with(Vec::new());
    zones.set_polls_until_in_sync(2);
    let change_id = zones
        .change_records(
            &id,
            &[change(
                Action::Create,
                a("x.example.com", 60, &["192.0.2.1"]),
            )],
            "x",
        )
        .await
        .expect("accepted");
    assert!(!zones.change_in_sync(&change_id).await.expect("poll"));
    assert!(!zones.change_in_sync(&change_id).await.expect("poll"));
    assert!(zones.change_in_sync(&change_id).await.expect("poll"));
    zones.fail_next(
        ZoneOp::ChangeResourceRecordSets,
        1,
        Fault::PriorRequestNotComplete,
    );
    let err = zones
        .change_records(
            &id,
            &[change(
                Action::Create,
                a("y.example.com", 60, &["192.0.2.1"]),
            )],
            "y",
        )
        .await
        .expect_err("fault");
    assert_eq!(err.error_type(), "PriorRequestNotComplete");
    assert!(zones
        .records(&id)
        .expect("zone")
        .iter()
        .all(|r| r.name != n("y.example.com")));
    assert_eq!(zones.writes_to(&id), 1, "the failed call is not a write");
    assert_eq!(zones.count(ZoneOp::ChangeResourceRecordSets), 2);
}

#[tokio::test]
async fn a_second_create_with_the_same_caller_reference_is_refused_as_route53_does() {
    let zones = MemoryZones::new();
    let first = zones
        .create_zone(&n("example.com"), "ref-1", "c")
        .await
        .expect("created");
    let err = zones
        .create_zone(&n("example.com"), "ref-1", "c")
        .await
        .expect_err("HostedZoneAlreadyExists");
    assert!(err.to_string().contains("HostedZoneAlreadyExists"), "{err}");
    assert!(err.to_string().contains(&first.id));
    assert_eq!(zones.zones().len(), 1);
}

#[tokio::test]
async fn a_registrar_operation_goes_submitted_in_progress_successful() {
    let registrar = MemoryRegistrar::new();
    let domain = n("example.com");
    registrar.register(&domain, &["ns1.old.test.".into()]);
    registrar.set_polls_until_done(2);
    let op = registrar
        .update_name_servers(&domain, &["ns1.new.test".into()])
        .await
        .expect("op");
    let busy = registrar
        .update_name_servers(&domain, &["ns2.new.test".into()])
        .await
        .expect_err("one operation at a time");
    assert_eq!(busy.error_type(), "PriorRequestNotComplete");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(registrar.operation_status(&op).await.expect("status"));
    }
    assert_eq!(statuses, ["SUBMITTED", "IN_PROGRESS", "SUCCESSFUL"]);
    assert_eq!(
        registrar.name_servers(&domain).await.expect("servers"),
        ["ns1.new.test."]
    );
}

#[tokio::test]
async fn scripted_dns_answers_as_scripted_falls_silent_and_serves_zones_live() {
    let dns = ScriptedDns::new();
    let server = addr("192.0.2.1:53");
    let name = n("www.example.com");
    assert!(
        dns.query(server, &name, RrType::A, false).await.is_err(),
        "nobody listens"
    );
    dns.answer(
        server,
        &name,
        RrType::A,
        answer(
            vec![record("www.example.com", "A", 60, "192.0.2.9")],
            vec![],
        ),
    );
    let got = dns
        .query(server, &name, RrType::A, false)
        .await
        .expect("answer");
    assert_eq!(got.answers[0].data, "192.0.2.9");
    let other = dns
        .query(server, &n("x.example.com"), RrType::A, false)
        .await
        .expect("refused");
    assert_eq!(other.rcode, "REFUSED");
    dns.set_silent(server, true);
    assert!(dns.query(server, &name, RrType::A, false).await.is_err());

    // A zone served live: its records, a referral below a cut, NXDOMAIN elsewhere.
    let zones = Arc::new(MemoryZones::new());
    let zone = zones.add_zone(&n("example.com"));
    zones
        .put_records(
            &zone.id,
            [
                a("www.example.com", 60, &["192.0.2.1"]),
                rr("dev.example.com", RrType::NS, 300, &["ns1.child.test."]),
            ],
        )
        .expect("zone");
    let resolver = addr(RESOLVER);
    dns.serve_zones(Arc::clone(&zones), resolver);
    let ns_name = n(&zone.name_servers[0]);
    let ns_ip = dns
        .query(resolver, &ns_name, RrType::A, true)
        .await
        .expect("resolved")
        .answers[0]
        .data
        .clone();
    let ns = addr(&format!("{ns_ip}:53"));
    let www = dns.query(ns, &name, RrType::A, false).await.expect("www");
    assert!(www.authoritative);
    assert_eq!(www.answers[0].data, "192.0.2.1");
    let below = dns
        .query(ns, &n("a.dev.example.com"), RrType::A, false)
        .await
        .expect("referral");
    assert!(!below.authoritative);
    assert_eq!(below.authorities[0].data, "ns1.child.test.");
    let missing = dns
        .query(ns, &n("nope.example.com"), RrType::A, false)
        .await
        .expect("nx");
    assert_eq!(missing.rcode, "NXDOMAIN");
    // Live: a change to the zone is served at once.
    zones
        .put_records(&zone.id, [a("www.example.com", 60, &["192.0.2.2"])])
        .expect("zone");
    let www = dns.query(ns, &name, RrType::A, false).await.expect("www");
    assert_eq!(www.answers[0].data, "192.0.2.2");
    let direct = zone_answer(
        &zones.records(&zone.id).expect("zone"),
        &zone.name,
        &zone.id,
        &name,
        RrType::TXT,
    );
    assert_eq!(
        (direct.rcode.as_str(), direct.answers.len()),
        ("NOERROR", 0),
        "NODATA"
    );
}

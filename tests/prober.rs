//! The zero-downtime prober against the DNS world's real resolvers: it sees every answer
//! correct while the zone holds still, follows a change it is told of, and catches one it
//! is not told of (a wrong value, a name gone: NXDOMAIN). What a rehearsal reports as
//! `observed` is only worth something if the prober can fail.

use std::time::Duration;

use zonehop::core::change::{Action, Change};
use zonehop::core::zone::{AliasTarget, RecordSet, RrType};
use zonehop::ports::hosted_zones::HostedZones;
use zonehop::Name;
use zonehop_world::dnsworld::{DnsWorld, Ttls, WorldOptions};
use zonehop_world::moto::Moto;
use zonehop_world::prober::expectations::derive;
use zonehop_world::prober::{after_cutover, now_ms, planned_changes, Pace, Prober};
use zonehop_world::{route53_in, seed_zone, source_access};

fn n(s: &str) -> Name {
    Name::parse(s).expect("name")
}

fn rr(name: &str, rtype: RrType, values: &[&str]) -> RecordSet {
    RecordSet::simple(n(name), rtype, 2, values)
}

fn zone() -> Vec<RecordSet> {
    let mut blue = rr("w.example.com", RrType::A, &["192.0.2.21"]);
    blue.set_identifier = Some("blue".into());
    blue.weight = Some(70);
    let mut amber = rr("w.example.com", RrType::A, &["192.0.2.20"]);
    amber.set_identifier = Some("amber".into());
    amber.weight = Some(30);
    vec![
        rr("example.com", RrType::A, &["203.0.113.10"]),
        rr(
            "example.com",
            RrType::TXT,
            &["\"v=spf1 -all\"", "\"a\" \"b c\""],
        ),
        rr("example.com", RrType::MX, &["10 mail.example.com."]),
        rr("example.com", RrType::CAA, &["0 issue \"amazon.com\""]),
        rr("www.example.com", RrType::A, &["203.0.113.7"]),
        rr(
            "api.example.com",
            RrType::A,
            &["203.0.113.20", "203.0.113.21"],
        ),
        rr("old.example.com", RrType::A, &["203.0.113.30"]),
        rr("app.example.com", RrType::CNAME, &["www.example.com."]),
        rr(
            "ext.example.com",
            RrType::CNAME,
            &["somewhere.example.net."],
        ),
        rr("*.preview.example.com", RrType::A, &["203.0.113.9"]),
        rr(
            "_sip._udp.example.com",
            RrType::SRV,
            &["10 60 5060 sip.example.com."],
        ),
        RecordSet::alias(
            n("shop.example.com"),
            RrType::A,
            AliasTarget {
                hosted_zone_id: "SOURCE".into(),
                dns_name: n("www.example.com"),
                evaluate_target_health: false,
            },
        ),
        RecordSet::alias(
            n("lb.example.com"),
            RrType::A,
            AliasTarget {
                hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
                dns_name: n("dualstack.my-lb-1.us-east-1.elb.amazonaws.com"),
                evaluate_target_health: false,
            },
        ),
        blue,
        amber,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prober_passes_a_still_zone_follows_a_told_change_and_catches_untold_ones() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let domain = n("example.com");
    let records = zone();
    let zone_id = seed_zone(&base, &source_access(), &domain, &records).await;
    let world = DnsWorld::start(WorldOptions::new(base.clone(), vec![source_access()]).ttls(
        Ttls {
            resolver_max: Some(5),
            resolver_max_negative: Some(1),
            ..Ttls::uniform(2)
        },
    ))
    .await
    .expect("the DNS world starts");
    world.settle().await.expect("the world serves the zone");
    let derived = derive(&domain, "SOURCE", &records, &[]);
    assert_eq!(derived.warnings, Vec::<String>::new());
    let questions = derived.expectations.questions.len();
    let before = derived.expectations.clone();
    let pace = Pace {
        round: Duration::from_millis(100),
        ..Pace::default()
    };
    let prober = Prober::start(&world.resolvers(), derived, pace).await;
    let r53 = route53_in(&base, &source_access()).await;
    let upsert = |record: RecordSet| Change {
        action: Action::Upsert,
        record,
    };

    // GIVEN a zone that holds still: every answer is correct.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // WHEN a change the prober is told of is made (as a cutover is): old or new, then new,
    // for www, for shop, its alias, and for app's chain to it (app A).
    let request = serde_json::json!({ "cutover": { "records": [
        { "name": "www.example.com", "type": "A", "values": ["203.0.113.8"], "ttl": 2 },
    ] } });
    let after = derive(
        &domain,
        "SOURCE",
        &after_cutover(&records, &request, 2),
        &[],
    );
    let changes = planned_changes(&before, &after.expectations);
    assert_eq!(
        changes.len(),
        3,
        "www, its alias shop, and app's CNAME chain to it: {changes:?}"
    );
    let begun = now_ms();
    for change in &changes {
        prober.expectations().write().expect("lock").begin_change(
            &change.question,
            change.after.clone(),
            change.ttl,
            begun,
        );
    }
    r53.change_records(
        &zone_id,
        &[upsert(rr("www.example.com", RrType::A, &["203.0.113.8"]))],
        "told",
    )
    .await
    .expect("www changes");
    let done = now_ms();
    for change in &changes {
        prober
            .expectations()
            .write()
            .expect("lock")
            .end_change(&change.question, begun, done);
    }
    world.settle().await.expect("served");
    tokio::time::sleep(Duration::from_secs(9)).await;

    // AND changes it is not told of: a wrong value, and a name that goes away.
    r53.change_records(
        &zone_id,
        &[
            upsert(rr("api.example.com", RrType::A, &["198.51.100.99"])),
            Change {
                action: Action::Delete,
                record: rr("old.example.com", RrType::A, &["203.0.113.30"]),
            },
        ],
        "untold",
    )
    .await
    .expect("api and old change");
    world.settle().await.expect("served");
    tokio::time::sleep(Duration::from_secs(8)).await;
    let observed = prober.stop(|_| {}).await;

    // THEN the told change and everything else were correct; the untold ones were caught.
    let report = observed.to_json();
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    assert_eq!(observed.questions, questions);
    assert_eq!(observed.per_resolver.len(), 2, "{report:#}");
    for (resolver, tally) in &observed.per_resolver {
        assert!(tally.queries > 500, "{resolver}: {tally:?}");
        assert!(
            tally.wrong > 0,
            "{resolver} saw the untold value: {tally:?}"
        );
        assert!(
            tally.nxdomain > 0,
            "{resolver} saw the name gone: {tally:?}"
        );
        assert_eq!(
            tally.servfail + tally.timeouts + tally.other_rcode,
            0,
            "{tally:?}"
        );
    }
    let problem_names: Vec<&str> = observed
        .first_problems
        .iter()
        .map(|p| p.question.name.as_str())
        .collect();
    assert!(
        problem_names
            .iter()
            .all(|name| ["api.example.com.", "old.example.com."].contains(name)),
        "only the untold changes are problems: {report:#}"
    );
    let wrong = observed
        .first_problems
        .iter()
        .find(|p| p.question.name.as_str() == "api.example.com.")
        .expect("api listed");
    assert!(wrong.got.contains("198.51.100.99"), "{wrong:?}");
    assert!(wrong.expected.contains("203.0.113.20"), "{wrong:?}");
    assert!(observed.failed());
    assert!(observed.summary_line().starts_with("observed: "));
}

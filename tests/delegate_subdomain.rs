//! delegate-subdomain against moto and the local DNS world: the subtree moves into its own
//! zone and is cut from the parent without one moment in which it stops resolving.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{Context, LambdaEvent};
use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::change::Action;
use zonehop::core::request::ZoneRef;
use zonehop::core::zone::{AliasTarget, RecordSet, RrType, Zone};
use zonehop::ports::dns::DnsClient;
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::settings::Settings;
use zonehop::steps::delegate_subdomain::{DelegateOutput, DelegateRequest};
use zonehop::{Error, Name};
use zonehop_world::dnsworld::{DnsWorld, Ttls, WorldOptions};
use zonehop_world::moto::Moto;
use zonehop_world::{route53_in, seed_zone, source_access};

fn n(s: &str) -> Name {
    Name::parse(s).expect("name")
}

fn rr(name: &str, rtype: RrType, ttl: i64, values: &[&str]) -> RecordSet {
    RecordSet::simple(n(name), rtype, ttl, values)
}

/// The parent zone: `dev.example.com` and below stay in the source account. Short TTLs,
/// so that the resolvers' cached copies expire while the probe still runs and they must
/// follow the new delegation.
fn parent_records() -> Vec<RecordSet> {
    vec![
        rr("www.example.com", RrType::A, 2, &["203.0.113.7"]),
        rr("dev.example.com", RrType::A, 2, &["198.51.100.5"]),
        rr("dev.example.com", RrType::TXT, 2, &["\"env=dev\""]),
        rr("api.dev.example.com", RrType::A, 2, &["198.51.100.6"]),
        rr("api.dev.example.com", RrType::AAAA, 2, &["2001:db8::6"]),
        rr(
            "db.dev.example.com",
            RrType::CNAME,
            2,
            &["api.dev.example.com."],
        ),
        rr("*.preview.dev.example.com", RrType::A, 2, &["198.51.100.7"]),
        rr(
            "dev.example.com",
            RrType::MX,
            2,
            &["10 mail.dev.example.com."],
        ),
        RecordSet::alias(
            n("web.dev.example.com"),
            RrType::A,
            AliasTarget {
                hosted_zone_id: "SOURCE".into(),
                dns_name: n("api.dev.example.com"),
                evaluate_target_health: false,
            },
        ),
    ]
}

struct Setup {
    moto: Moto,
    world: DnsWorld,
    parent_id: String,
}

async fn setup(records: &[RecordSet]) -> Setup {
    let moto = Moto::start().await;
    let domain = n("example.com");
    let parent_id = seed_zone(&moto.config().await, &source_access(), &domain, records).await;
    let options = WorldOptions::new(moto.config().await, vec![source_access()]).ttls(Ttls {
        // kresd refuses a cap under its 5 s minimum TTL.
        resolver_max: Some(5),
        resolver_max_negative: Some(1),
        ..Ttls::uniform(2)
    });
    let world = DnsWorld::start(options)
        .await
        .expect("the DNS world starts");
    world.settle().await.expect("the world serves the zone");
    Setup {
        moto,
        world,
        parent_id,
    }
}

fn request(setup: &Setup) -> DelegateRequest {
    DelegateRequest {
        domain: "example.com".into(),
        source: ZoneRef {
            hosted_zone_id: Some(setup.parent_id.clone()),
            access: source_access(),
        },
        subdomain: "dev.example.com".into(),
        execution_id: Some("run-1".into()),
        delegation_ttl: 2,
        resolver: Some(setup.world.resolvers()[0].addr.to_string()),
    }
}

async fn invoke(setup: &Setup, request: DelegateRequest) -> Result<DelegateOutput, Error> {
    delegate_subdomain::handler(
        &setup.moto.config().await,
        &Settings::default(),
        LambdaEvent::new(
            serde_json::to_value(&request).expect("the request serializes"),
            Context::default(),
        ),
    )
    .await
}

async fn parent_zone(setup: &Setup) -> Zone {
    let r53 = route53_in(&setup.moto.config().await, &source_access()).await;
    read_zone(&r53, &setup.parent_id)
        .await
        .expect("parent reads")
}

type Probe = (Name, RrType);

/// What a resolver says about one name and type: rcode and sorted data, TTLs left out
/// (a cache counts them down).
async fn ask(resolver: std::net::SocketAddr, probe: &Probe) -> String {
    let dns = WireDns::new(Duration::from_millis(500), 2);
    match dns.query(resolver, &probe.0, probe.1, true).await {
        Err(e) => format!("no answer: {e}"),
        Ok(answer) => {
            let mut data: Vec<String> = answer
                .answers
                .iter()
                .map(|r| format!("{} {} {}", r.name, r.rtype, r.data))
                .collect();
            data.sort();
            format!("{} {}", answer.rcode, data.join(" | "))
        }
    }
}

#[tokio::test]
async fn the_subdomain_keeps_resolving_through_the_cut_and_ends_in_its_own_zone() {
    let setup = setup(&parent_records()).await;
    let probes: Vec<Probe> = vec![
        (n("dev.example.com"), RrType::A),
        (n("dev.example.com"), RrType::TXT),
        (n("dev.example.com"), RrType::MX),
        (n("api.dev.example.com"), RrType::A),
        (n("api.dev.example.com"), RrType::AAAA),
        (n("db.dev.example.com"), RrType::A),
        (n("web.dev.example.com"), RrType::A),
        (n("x.preview.dev.example.com"), RrType::A),
    ];
    // GIVEN what both resolvers answer before the first write
    let mut expected: BTreeMap<(String, Probe), String> = BTreeMap::new();
    for resolver in setup.world.resolvers() {
        for probe in &probes {
            let answer = ask(resolver.addr, probe).await;
            assert!(
                answer.starts_with("NOERROR") && !answer.ends_with("NOERROR "),
                "{} {probe:?}: {answer}",
                resolver.name
            );
            expected.insert((resolver.name.to_owned(), probe.clone()), answer);
        }
    }

    // WHILE a probe asks both resolvers for every name every 50 ms
    let running = Arc::new(AtomicBool::new(true));
    let probe_task = {
        let running = running.clone();
        let resolvers = setup.world.resolvers();
        let probes = probes.clone();
        let expected = expected.clone();
        tokio::spawn(async move {
            let mut rounds = 0usize;
            let mut failures = Vec::new();
            while running.load(Ordering::Relaxed) {
                for resolver in &resolvers {
                    for probe in &probes {
                        let got = ask(resolver.addr, probe).await;
                        let want = &expected[&(resolver.name.to_owned(), probe.clone())];
                        if &got != want {
                            failures.push(format!(
                                "round {rounds}, {} {} {}: {got} (wanted {want})",
                                resolver.name, probe.0, probe.1
                            ));
                        }
                    }
                }
                rounds += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (rounds, failures)
        })
    };

    // WHEN delegate-subdomain runs
    let output = invoke(&setup, request(&setup))
        .await
        .expect("delegation succeeds");
    // ... and long enough afterwards for every cached answer to expire (TTL 2 s, but
    // kresd keeps everything at least 5 s)
    setup.world.settle().await.expect("settled");
    tokio::time::sleep(Duration::from_secs(7)).await;
    running.store(false, Ordering::Relaxed);
    let (rounds, failures) = probe_task.await.expect("probe task");

    // THEN not one wrong answer, from before the first write until after the last
    assert!(rounds >= 20, "the probe ran {rounds} rounds");
    assert!(
        failures.is_empty(),
        "{} bad answers, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    // AND the parent holds only the delegation; the child holds the subtree
    let dev = n("dev.example.com");
    let parent = parent_zone(&setup).await;
    let under_dev: Vec<String> = parent
        .iter()
        .filter(|r| r.name.is_at_or_below(&dev))
        .map(|r| r.key().to_string())
        .collect();
    assert_eq!(under_dev, ["dev.example.com. NS"]);
    assert_eq!(output.moved_records, 8);
    assert!(!output.already_delegated);
    let r53 = route53_in(&setup.moto.config().await, &source_access()).await;
    let child = read_zone(&r53, &output.child_zone_id)
        .await
        .expect("child reads");
    assert_eq!(
        child
            .iter()
            .filter(|r| !zonehop::core::plan::is_apex_soa_or_ns(r, &dev))
            .count(),
        8
    );
    let child_alias = child
        .iter()
        .find(|r| r.name == n("web.dev.example.com"))
        .and_then(|r| r.alias_target.clone())
        .expect("the alias moved");
    assert_eq!(
        child_alias.hosted_zone_id, output.child_zone_id,
        "a same-zone alias names its new zone"
    );
    let child_zone = r53
        .get_zone(&output.child_zone_id)
        .await
        .expect("child zone");
    assert_eq!(output.name_servers, child_zone.name_servers);

    // AND the reverse change is one delete of the delegation plus the moved records
    assert_eq!(output.reverse_change[0].action, Action::Delete);
    assert_eq!(output.reverse_change[0].record.rtype, RrType::NS);
    assert_eq!(
        output
            .reverse_change
            .iter()
            .filter(|c| c.action == Action::Create)
            .count(),
        8
    );
}

#[tokio::test]
async fn a_second_run_changes_nothing_and_the_reverse_change_restores_the_parent() {
    let setup = setup(&parent_records()).await;
    let before = parent_zone(&setup).await;
    let first = invoke(&setup, request(&setup))
        .await
        .expect("delegation succeeds");
    let after_first = parent_zone(&setup).await;

    let second = invoke(&setup, request(&setup))
        .await
        .expect("a re-run succeeds");
    assert!(second.already_delegated);
    assert_eq!(second.child_zone_id, first.child_zone_id);
    assert_eq!(
        second.reverse_change, first.reverse_change,
        "the re-run reports the same reverse change"
    );
    assert_eq!(
        parent_zone(&setup).await,
        after_first,
        "the re-run wrote nothing"
    );

    // Rollback: the reverse change, in one request, puts the parent back as it was.
    let r53 = route53_in(&setup.moto.config().await, &source_access()).await;
    r53.change_records(&setup.parent_id, &first.reverse_change, "rollback")
        .await
        .expect("reverse change applies");
    assert_eq!(parent_zone(&setup).await, before);
}

#[tokio::test]
async fn an_alias_across_the_new_cut_is_reported_before_any_write() {
    let mut records = parent_records();
    records.push(RecordSet::alias(
        n("api.example.com"),
        RrType::A,
        AliasTarget {
            hosted_zone_id: "SOURCE".into(),
            dns_name: n("api.dev.example.com"),
            evaluate_target_health: false,
        },
    ));
    let setup = setup(&records).await;
    let before = parent_zone(&setup).await;

    let error = invoke(&setup, request(&setup)).await.expect_err("blocked");

    assert_eq!(error.error_type(), "MigrationBlocked");
    assert!(error.to_string().contains("api.example.com. A"), "{error}");
    assert_eq!(parent_zone(&setup).await, before);
    let r53 = route53_in(&setup.moto.config().await, &source_access()).await;
    assert!(
        r53.zones_named(&n("dev.example.com"))
            .await
            .expect("list")
            .is_empty(),
        "no child zone was created"
    );
}

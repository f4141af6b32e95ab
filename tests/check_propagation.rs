//! check-propagation against moto and the local DNS world, TTLs scaled to seconds: a swap
//! at the registrar is seen at the parent's servers, every resolver moves, and "safe" is
//! declared at the TTL bound, not before and not later than one poll after it.

use std::time::Duration;

use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::change::{Action, Change};
use zonehop::core::propagation::Pacing;
use zonehop::core::request::ProbeConfig;
use zonehop::core::request::ZoneRef;
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::ports::hosted_zones::HostedZones;
use zonehop::steps::check_propagation::{check_propagation, PropagationOutput, PropagationRequest};
use zonehop::Name;
use zonehop_world::dnsworld::{DnsWorld, Ttls, WorldOptions};
use zonehop_world::moto::Moto;
use zonehop_world::registrar::{register, registrar_access, set_name_servers};
use zonehop_world::{route53_in, seed_zone, source_access, target_access};

fn n(s: &str) -> Name {
    Name::parse(s).expect("name")
}

fn rr(name: &str, rtype: RrType, ttl: i64, values: &[&str]) -> RecordSet {
    RecordSet::simple(n(name), rtype, ttl, values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_is_declared_at_the_ttl_bound_once_the_parent_and_every_resolver_moved() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let domain = n("example.com");
    let source_id = seed_zone(
        &base,
        &source_access(),
        &domain,
        &[
            rr("_zonehop.example.com", RrType::TXT, 1, &["\"side=old\""]),
            rr("www.example.com", RrType::A, 3, &["203.0.113.7"]),
        ],
    )
    .await;
    let target_id = seed_zone(
        &base,
        &target_access(),
        &domain,
        &[
            rr("_zonehop.example.com", RrType::TXT, 1, &["\"side=new\""]),
            rr("www.example.com", RrType::A, 3, &["203.0.113.7"]),
        ],
    )
    .await;
    let source = route53_in(&base, &source_access()).await;
    let target = route53_in(&base, &target_access()).await;
    let old_servers = source
        .get_zone(&source_id)
        .await
        .expect("zone")
        .name_servers;
    let new_servers = target
        .get_zone(&target_id)
        .await
        .expect("zone")
        .name_servers;
    // Step 6 has lowered both apex NS TTLs to 2 s.
    let apex_ns = |servers: &[String]| {
        let values: Vec<String> = servers.iter().map(|s| format!("{s}.")).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        rr("example.com", RrType::NS, 2, &values)
    };
    source
        .change_records(
            &source_id,
            &[Change {
                action: Action::Upsert,
                record: apex_ns(&old_servers),
            }],
            "lower",
        )
        .await
        .expect("lower");
    target
        .change_records(
            &target_id,
            &[Change {
                action: Action::Upsert,
                record: apex_ns(&new_servers),
            }],
            "lower",
        )
        .await
        .expect("lower");
    // TTLs scaled to seconds, the SOA's too: a cached negative answer from the old side
    // counts as the old side.
    let mut soa = zonehop::ports::hosted_zones::read_zone(&source, &source_id)
        .await
        .expect("source reads")
        .iter()
        .find(|r| r.rtype == RrType::SOA)
        .cloned()
        .expect("SOA");
    soa.ttl = Some(2);
    source
        .change_records(
            &source_id,
            &[Change {
                action: Action::Upsert,
                record: soa,
            }],
            "scale",
        )
        .await
        .expect("scale SOA");
    register(&base, "example.com").await;

    let world = DnsWorld::start(
        WorldOptions::new(base.clone(), vec![source_access(), target_access()])
            .registrar(registrar_access())
            .ttls(Ttls {
                resolver_max: Some(5),
                resolver_max_negative: Some(1),
                ..Ttls::uniform(2)
            }),
    )
    .await
    .expect("the world starts");
    world.settle().await.expect("served");
    let resolvers: Vec<String> = world
        .resolvers()
        .iter()
        .map(|r| r.addr.to_string())
        .collect();
    let pacing = Pacing {
        min_wait: 1,
        max_wait: 3,
    };
    let mut request = PropagationRequest {
        execution_id: None,
        domain: "example.com".into(),
        source: ZoneRef {
            hosted_zone_id: Some(source_id.clone()),
            access: source_access(),
        },
        target: ZoneRef {
            hosted_zone_id: Some(target_id.clone()),
            access: target_access(),
        },
        probe: ProbeConfig {
            resolvers: resolvers.clone(),
        },
        resolver: Some(resolvers[0].clone()),
        pacing: Some(pacing),
        state: None,
        keep_in_source: Vec::new(),
        health_checks: Default::default(),
    };
    let round = |request: PropagationRequest| {
        let (source, target) = (source.clone(), target.clone());
        async move {
            check_propagation(
                &source,
                &target,
                &WireDns::default(),
                &zonehop::ports::clock::SystemClock,
                &request,
                &Default::default(),
            )
            .await
            .expect("a round succeeds")
        }
    };

    // GIVEN the registration still names the old servers: nothing has moved.
    let before = round(request.clone()).await;
    assert!(!before.safe);
    assert_eq!(before.parent_on_new, 0);
    assert!(before.parent_total >= 1);
    assert_eq!(before.resolvers_on_new, 0, "{:?}", before.resolvers);
    assert_eq!(before.safe_at, None);
    request.state = Some(before.state);

    // WHEN the registration and the old apex NS point at the new servers (step 7)
    set_name_servers(&base, "example.com", &new_servers).await;
    source
        .change_records(
            &source_id,
            &[Change {
                action: Action::Upsert,
                record: apex_ns(&new_servers),
            }],
            "swap",
        )
        .await
        .expect("swap");
    world.settle().await.expect("served");

    // THEN the loop runs until safe
    let mut rounds: Vec<PropagationOutput> = Vec::new();
    loop {
        let out = round(request.clone()).await;
        let done = out.safe;
        let wait = out.next_wait_seconds;
        request.state = Some(out.state.clone());
        rounds.push(out);
        if done {
            break;
        }
        assert!(
            rounds.len() < 40,
            "not safe after {} rounds: {:#?}",
            rounds.len(),
            rounds.last()
        );
        tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(1))).await;
    }
    let last = rounds.last().expect("a round");
    let seen = last
        .parent_switch_seen_at
        .expect("the parent switch was seen");
    // parent NS TTL 2 + max(old NS TTL 2, largest record TTL 3).
    assert_eq!(last.safe_at, Some(seen + 2 + 3));
    let safe_at = last.safe_at.unwrap_or_default();
    eprintln!(
        "{} rounds after the swap; parent switch seen at {seen}, safe_at {safe_at}, declared at {}",
        rounds.len(),
        last.checked_at
    );
    assert!(last.checked_at >= safe_at, "never declared early");
    // Not declared late: within one poll, unless a resolver was still on the old side.
    let last_resolver_move = last
        .resolvers
        .iter()
        .filter_map(|r| r.moved_at)
        .max()
        .unwrap_or(0);
    assert!(
        last.checked_at <= safe_at.max(last_resolver_move) + pacing.max_wait + 1,
        "declared at {} for safe_at {safe_at}",
        last.checked_at
    );
    assert_eq!(last.parent_on_new, last.parent_total);
    assert!(
        last.resolvers
            .iter()
            .all(|r| r.side == "new" && r.moved_at.is_some()),
        "{:?}",
        last.resolvers
    );
    // Every earlier round said not safe.
    assert!(rounds[..rounds.len() - 1].iter().all(|r| !r.safe));
    for r in &rounds {
        if let Some(at) = r.safe_at {
            assert!(!r.safe || r.checked_at >= at);
        }
    }
}

//! verify-zones against moto and the local DNS world: every server of both zones asked
//! directly, every difference caught, identical zones pass.

use lambda_runtime::{Context, LambdaEvent};
use zonehop::core::answers::Difference;
use zonehop::core::change::{Action, Change};
use zonehop::core::request::ZoneRef;
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::ports::hosted_zones::HostedZones;
use zonehop::settings::Settings;
use zonehop::steps::verify_zones::{VerifyOutput, VerifyRequest};
use zonehop::{Error, Name};
use zonehop_world::dnsworld::{DnsWorld, WorldOptions};
use zonehop_world::moto::Moto;
use zonehop_world::{route53_in, seed_zone, source_access, target_access, zonegen};

fn n(s: &str) -> Name {
    Name::parse(s).expect("name")
}

struct Setup {
    moto: Moto,
    world: DnsWorld,
    source_id: String,
    target_id: String,
}

/// GIVEN a source zone with every type and policy, synced into a target zone in another
/// account, both served by the local DNS world.
async fn setup() -> Setup {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let domain = n("example.com");
    let source_id = seed_zone(
        &base,
        &source_access(),
        &domain,
        &zonegen::every_kind(&domain, "SOURCE", 3),
    )
    .await;
    let target_id = seed_zone(&base, &target_access(), &domain, &[]).await;
    let sync = zonehop_world::sync_request("example.com", &source_id, &target_id);
    sync_records::handler(
        &base,
        &Settings::default(),
        LambdaEvent::new(
            serde_json::to_value(&sync).expect("the request serializes"),
            Context::default(),
        ),
    )
    .await
    .expect("the target is synced");
    let world = DnsWorld::start(WorldOptions::new(
        base,
        vec![source_access(), target_access()],
    ))
    .await
    .expect("the DNS world starts");
    world.settle().await.expect("both zones are served");
    Setup {
        moto,
        world,
        source_id,
        target_id,
    }
}

async fn verify(setup: &Setup) -> Result<VerifyOutput, Error> {
    let request = VerifyRequest {
        execution_id: None,
        domain: "example.com".into(),
        source: ZoneRef {
            hosted_zone_id: Some(setup.source_id.clone()),
            access: source_access(),
        },
        target: ZoneRef {
            hosted_zone_id: Some(setup.target_id.clone()),
            access: target_access(),
        },
        keep_in_source: Vec::new(),
        resolver: Some(setup.world.resolvers()[0].addr.to_string()),
    };
    // The world serves a change within a second and every difference these tests inject
    // persists: 3 s of looking again is plenty.
    let settings = Settings {
        verify_settle: std::time::Duration::from_secs(3),
        ..Settings::default()
    };
    verify_zones::handler(
        &setup.moto.config().await,
        &settings,
        LambdaEvent::new(
            serde_json::to_value(&request).expect("the request serializes"),
            Context::default(),
        ),
    )
    .await
}

/// Changes the target zone through the API, then waits until the world serves it.
async fn change_target(setup: &Setup, changes: Vec<Change>) {
    let r53 = route53_in(&setup.moto.config().await, &target_access()).await;
    r53.change_records(&setup.target_id, &changes, "inject a difference")
        .await
        .expect("change applies");
    setup.world.settle().await.expect("served");
}

fn differences(result: Result<VerifyOutput, Error>) -> Vec<Difference> {
    match result {
        Err(Error::ZonesDiffer { differences }) => differences,
        other => panic!("expected ZonesDiffer, got {other:?}"),
    }
}

async fn target_record(setup: &Setup, name: &str, rtype: RrType) -> RecordSet {
    let r53 = route53_in(&setup.moto.config().await, &target_access()).await;
    let zone = zonehop::ports::hosted_zones::read_zone(&r53, &setup.target_id)
        .await
        .expect("target reads");
    let found = zone
        .iter()
        .find(|r| r.name == n(name) && r.rtype == rtype && r.set_identifier.is_none())
        .cloned();
    found.unwrap_or_else(|| panic!("{name} {rtype} in the target"))
}

#[tokio::test]
async fn identical_zones_pass_with_every_rrset_asked_of_every_server() {
    let setup = setup().await;

    let output = verify(&setup).await.expect("identical zones verify");

    assert_eq!(output.servers, 8, "four old and four new servers");
    // Every RRset over DNS, routed sets and aliases included (judged by what they may
    // answer), a made-up name under each wildcard and one that does not exist; routing
    // policies, aliases to AWS resources and aliases to routed names (answers that vary by
    // design) go through the API as well (102, both sides counted).
    assert!(output.rrsets_compared >= 55, "{output:?}");
    assert!(output.judged_by_possible_answers >= 20, "{output:?}");
    assert!(output.synthesized >= 1, "{output:?}");
    // One query per question and server, plus one to the resolver per AWS alias target
    // and type (what the resource answers).
    let domain = n("example.com");
    let aws_targets: std::collections::BTreeSet<(Name, RrType)> =
        zonegen::every_kind(&domain, "SOURCE", 3)
            .iter()
            .filter_map(|r| {
                r.alias_target
                    .as_ref()
                    .filter(|a| !a.dns_name.is_at_or_below(&domain))
                    .map(|a| (a.dns_name.clone(), r.rtype))
            })
            .collect();
    assert!(!aws_targets.is_empty());
    assert_eq!(
        output.queries,
        output.rrsets_compared * 8 + aws_targets.len(),
        "{output:?}"
    );
    assert!(
        output.compared_through_api >= 90,
        "routing-policy records and varying aliases go through the API: {output:?}"
    );
    assert!(output.differences.is_empty());
}

#[tokio::test]
async fn a_missing_record_a_different_value_and_a_different_ttl_are_each_caught_on_every_new_server(
) {
    let setup = setup().await;
    let missing = target_record(&setup, "host1.example.com", RrType::AAAA).await;
    let mut other_value = target_record(&setup, "host2.example.com", RrType::A).await;
    other_value.resource_records[0].value = "192.0.2.222".into();
    let mut other_ttl = target_record(&setup, "t0.example.com", RrType::TXT).await;
    other_ttl.ttl = Some(301);
    change_target(
        &setup,
        vec![
            Change {
                action: Action::Delete,
                record: missing,
            },
            Change {
                action: Action::Upsert,
                record: other_value,
            },
            Change {
                action: Action::Upsert,
                record: other_ttl,
            },
        ],
    )
    .await;

    let found = differences(verify(&setup).await);

    let mut caught: Vec<(String, String, usize)> = Vec::new();
    for d in &found {
        assert!(
            d.server.starts_with("new "),
            "only the new servers differ: {d:?}"
        );
        match caught
            .iter_mut()
            .find(|(name, rtype, _)| *name == d.name && *rtype == d.rtype)
        {
            Some(entry) => entry.2 += 1,
            None => caught.push((d.name.clone(), d.rtype.clone(), 1)),
        }
    }
    caught.sort();
    // The aliases alias2 -> host2 and alias2-2 -> alias2 answer with host2's data, so they
    // differ too: verification asks what users get, not what the API says.
    assert_eq!(
        caught,
        [
            ("alias2-2.example.com.".into(), "A".into(), 4),
            ("alias2.example.com.".into(), "A".into(), 4),
            ("host1.example.com.".into(), "AAAA".into(), 4),
            ("host2.example.com.".into(), "A".into(), 4),
            ("t0.example.com.".into(), "TXT".into(), 4),
        ]
    );
    let ttl = found
        .iter()
        .find(|d| d.rtype == "TXT")
        .expect("ttl difference");
    assert!(
        ttl.old.iter().all(|v| v.starts_with("300 "))
            && ttl.new.iter().all(|v| v.starts_with("301 ")),
        "{ttl:?}"
    );
    let value = found
        .iter()
        .find(|d| d.rtype == "A")
        .expect("value difference");
    assert!(
        value.new.iter().any(|v| v.ends_with("192.0.2.222")),
        "{value:?}"
    );
    let gone = found
        .iter()
        .find(|d| d.rtype == "AAAA")
        .expect("missing record");
    assert!(
        gone.new.is_empty() || gone.new.iter().all(|v| !v.contains("2001:db8")),
        "{gone:?}"
    );
}

#[tokio::test]
async fn a_routing_policy_difference_is_caught_through_the_api() {
    let setup = setup().await;
    let r53 = route53_in(&setup.moto.config().await, &target_access()).await;
    let zone = zonehop::ports::hosted_zones::read_zone(&r53, &setup.target_id)
        .await
        .expect("target reads");
    let mut weighted = zone
        .iter()
        .find(|r| r.name == n("api0.example.com") && r.set_identifier.as_deref() == Some("blue"))
        .cloned()
        .expect("weighted record");
    weighted.weight = Some(5);
    change_target(
        &setup,
        vec![Change {
            action: Action::Upsert,
            record: weighted,
        }],
    )
    .await;

    let found = differences(verify(&setup).await);

    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].server, "api");
    assert_eq!(found[0].name, "api0.example.com.");
    assert!(found[0].new[0].contains("\"Weight\":5"), "{found:?}");
}

#[tokio::test]
async fn one_of_four_new_servers_serving_a_stale_copy_is_caught_and_named() {
    let setup = setup().await;
    let base = setup.moto.config().await;
    let target = route53_in(&base, &target_access()).await;
    let stale = target
        .get_zone(&setup.target_id)
        .await
        .expect("target zone")
        .name_servers[2]
        .clone();
    setup
        .world
        .freeze_server(&stale)
        .await
        .expect("one server keeps a stale copy");

    // The same change in both zones (what cutover does): every server but the frozen one
    // serves it.
    let mut moved = target_record(&setup, "t1.example.com", RrType::TXT).await;
    moved.resource_records = vec![zonehop::core::zone::ResourceRecord {
        value: "\"moved=yes\"".into(),
    }];
    let source = route53_in(&base, &source_access()).await;
    source
        .change_records(
            &setup.source_id,
            &[Change {
                action: Action::Upsert,
                record: moved.clone(),
            }],
            "cutover",
        )
        .await
        .expect("source changes");
    change_target(
        &setup,
        vec![Change {
            action: Action::Upsert,
            record: moved,
        }],
    )
    .await;

    let found = differences(verify(&setup).await);

    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].name, "t1.example.com.");
    assert!(
        found[0].server.contains(stale.trim_end_matches('.')),
        "{:?} names {stale}",
        found[0].server
    );
    assert_eq!(found[0].old, ["300 \"moved=yes\""], "{found:?}");
    assert!(
        found[0].new.iter().all(|v| !v.contains("moved=yes")),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_new_server_lying_about_routed_sets_and_aws_aliases_is_caught_over_dns() {
    // GIVEN one new server that answers a wrong address for every A record below the apex
    // (routed members and AWS aliases included), while the zones agree through the API
    let setup = setup().await;
    let target = route53_in(&setup.moto.config().await, &target_access()).await;
    let liar = target
        .get_zone(&setup.target_id)
        .await
        .expect("target zone")
        .name_servers[1]
        .clone();
    setup
        .world
        .tamper_server(&liar, zonehop_world::faults::world::wrong_answers)
        .await
        .expect("one server lies");

    // WHEN verify-zones runs
    let found = differences(verify(&setup).await);

    // THEN only the liar is named, and among what it got wrong are routed sets and AWS
    // aliases, judged by what they may answer
    assert!(
        found
            .iter()
            .all(|d| d.server.contains(liar.trim_end_matches('.'))),
        "{found:#?}"
    );
    let judged: Vec<&Difference> = found
        .iter()
        .filter(|d| d.old.iter().any(|o| o.starts_with("may answer:")))
        .collect();
    assert!(
        judged.iter().any(|d| d.old[0].contains("one of")),
        "a routed set: {found:#?}"
    );
    assert!(
        judged
            .iter()
            .any(|d| d.old[0].contains("amazonaws.com") || d.old[0].contains("cloudfront.net")),
        "an AWS alias: {found:#?}"
    );
    assert!(
        judged
            .iter()
            .all(|d| d.new.iter().any(|v| v.contains("198.51.100.66"))),
        "{judged:#?}"
    );
}

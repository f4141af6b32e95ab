//! lower-ns-ttl, cutover and finalize against moto: both zones change alike, re-runs
//! change nothing.

use zonehop::adapters::dynamodb::NoLedger;
use zonehop::adapters::parent_zone::NO_PARENT;
use zonehop::adapters::route53::Route53;
use zonehop::core::name::Name;
use zonehop::core::request::ZoneRef;
use zonehop::core::request::{BothZones, CutoverRecord, NsTtl};
use zonehop::core::zone::{RecordSet, RrType, Zone};
use zonehop::ports::clock::SystemClock;
use zonehop::ports::hosted_zones::read_zone;
use zonehop::settings::Settings;
use zonehop::steps::cutover::{cutover, CutoverRequest};
use zonehop::steps::finalize::finalize;
use zonehop::steps::lower_ns_ttl::lower_ns_ttl;
use zonehop_world::moto::Moto;
use zonehop_world::{route53_in, seed_zone, source_access, target_access};

fn n(s: &str) -> Name {
    Name::parse(s).expect("name")
}

struct Setup {
    _moto: Moto,
    source: Route53,
    target: Route53,
    zones: BothZones,
}

async fn setup() -> Setup {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let records = [
        RecordSet::simple(n("www.example.com"), RrType::A, 300, &["192.0.2.10"]),
        RecordSet::simple(
            n("_zonehop.example.com"),
            RrType::TXT,
            60,
            &["\"side=old\""],
        ),
    ];
    let source_id = seed_zone(&base, &source_access(), &n("example.com"), &records).await;
    let target_id = seed_zone(&base, &target_access(), &n("example.com"), &records[..1]).await;
    Setup {
        source: route53_in(&base, &source_access()).await,
        target: route53_in(&base, &target_access()).await,
        zones: BothZones {
            execution_id: None,
            registrar: Default::default(),
            keep_in_source: Vec::new(),
            health_checks: Default::default(),
            domain: "example.com".into(),
            source: ZoneRef {
                hosted_zone_id: Some(source_id),
                access: source_access(),
            },
            target: ZoneRef {
                hosted_zone_id: Some(target_id),
                access: target_access(),
            },
            ns_ttl: NsTtl {
                during: 60,
                after: 172_800,
            },
        },
        _moto: moto,
    }
}

async fn zone(r53: &Route53, zone: &ZoneRef) -> Zone {
    read_zone(r53, zone.hosted_zone_id.as_deref().expect("id"))
        .await
        .expect("zone reads")
}

fn apex_ns_ttl(zone: &Zone) -> Option<i64> {
    zone.iter()
        .find(|r| r.name == n("example.com") && r.rtype == RrType::NS)
        .and_then(|r| r.ttl)
}

#[tokio::test]
async fn the_ns_ttl_is_lowered_on_both_sides_and_the_old_ttl_is_what_to_wait_out() {
    let s = setup().await;
    let settings = Settings::default();
    let out = lower_ns_ttl(
        &s.source,
        &s.target,
        NO_PARENT,
        &NoLedger,
        &SystemClock,
        &s.zones,
        &settings,
    )
    .await
    .expect("lowered");
    // moto, like Route 53, gives a new zone's apex NS a TTL of 172800 s.
    assert_eq!(
        (
            out.previous_source_ttl,
            out.previous_target_ttl,
            out.wait_seconds
        ),
        (172_800, 172_800, 172_800)
    );
    assert_eq!(
        apex_ns_ttl(&zone(&s.source, &s.zones.source).await),
        Some(60)
    );
    assert_eq!(
        apex_ns_ttl(&zone(&s.target, &s.zones.target).await),
        Some(60)
    );
    let again = lower_ns_ttl(
        &s.source,
        &s.target,
        NO_PARENT,
        &NoLedger,
        &SystemClock,
        &s.zones,
        &settings,
    )
    .await
    .expect("re-run");
    assert_eq!(again.wait_seconds, 60, "a re-run sees the lowered TTL");
}

#[tokio::test]
async fn cutover_makes_the_same_change_in_both_zones_once() {
    let s = setup().await;
    let settings = Settings::default();
    let request = CutoverRequest {
        zones: s.zones.clone(),
        records: vec![CutoverRecord {
            name: "www.example.com".into(),
            rtype: "A".into(),
            values: vec!["203.0.113.7".into()],
            ttl: 60,
        }],
    };
    let out = cutover(&s.source, &s.target, &SystemClock, &request, &settings)
        .await
        .expect("cutover");
    assert!(out.source_changed && out.target_changed);
    let expected = RecordSet::simple(n("www.example.com"), RrType::A, 60, &["203.0.113.7"]);
    for (r53, zone_ref) in [(&s.source, &s.zones.source), (&s.target, &s.zones.target)] {
        let got = zone(r53, zone_ref)
            .await
            .get(&expected.key())
            .cloned()
            .expect("www");
        assert!(got.same_content(&expected), "{got:?}");
    }
    let again = cutover(&s.source, &s.target, &SystemClock, &request, &settings)
        .await
        .expect("re-run");
    assert!(!again.source_changed && !again.target_changed);

    let mut outside = request.clone();
    outside.records[0].name = "www.example.org".into();
    assert_eq!(
        cutover(&s.source, &s.target, &SystemClock, &outside, &settings)
            .await
            .expect_err("refused")
            .error_type(),
        "InvalidRequest"
    );
}

#[tokio::test]
async fn finalize_restores_the_ns_ttl_removes_the_canaries_and_never_deletes_the_old_zone() {
    let s = setup().await;
    let settings = Settings::default();
    lower_ns_ttl(
        &s.source,
        &s.target,
        NO_PARENT,
        &NoLedger,
        &SystemClock,
        &s.zones,
        &settings,
    )
    .await
    .expect("lowered");
    let out = finalize(
        &s.source,
        &s.target,
        NO_PARENT,
        (
            &zonehop::adapters::dynamodb::NoLedger,
            &zonehop::ports::clock::SystemClock,
        ),
        &s.zones,
        &settings,
    )
    .await
    .expect("finalized");
    assert_eq!(out.canaries_removed, 1);
    assert!(out
        .decommission_checklist
        .iter()
        .any(|line| line.contains("48 hours")));
    let source = zone(&s.source, &s.zones.source).await;
    assert_eq!(apex_ns_ttl(&source), Some(172_800));
    assert_eq!(
        apex_ns_ttl(&zone(&s.target, &s.zones.target).await),
        Some(172_800)
    );
    assert!(!source.iter().any(|r| r.name == n("_zonehop.example.com")));
    assert!(
        source.iter().any(|r| r.name == n("www.example.com")),
        "the old zone keeps its records"
    );
    let again = finalize(
        &s.source,
        &s.target,
        NO_PARENT,
        (
            &zonehop::adapters::dynamodb::NoLedger,
            &zonehop::ports::clock::SystemClock,
        ),
        &s.zones,
        &settings,
    )
    .await
    .expect("re-run");
    assert_eq!(again.canaries_removed, 0);
}

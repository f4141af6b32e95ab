//! sync-records against moto server over HTTP: the real handler, real SDK clients, a
//! source and a target account.

use lambda_runtime::{Context, LambdaEvent};
use zonehop::core::plan::is_apex_soa_or_ns;
use zonehop::core::zone::{RecordSet, RrType, Zone};
use zonehop::ports::hosted_zones::read_zone;
use zonehop::settings::Settings;
use zonehop::steps::sync_records::{sync_records, SyncOutput, SyncRequest};
use zonehop::{Error, Name};
use zonehop_world::counting::Counting;
use zonehop_world::moto::Moto;
use zonehop_world::{route53_in, seed_zone, source_access, target_access, zonegen};

fn domain() -> Name {
    Name::parse("example.com").expect("name")
}

struct World {
    moto: Moto,
    source_id: String,
    target_id: String,
}

/// GIVEN a source zone holding `records` in account 111111111111 and an empty target zone
/// in account 222222222222.
async fn world(records: &[RecordSet]) -> World {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let source_id = seed_zone(&base, &source_access(), &domain(), records).await;
    let target_id = seed_zone(&base, &target_access(), &domain(), &[]).await;
    World {
        moto,
        source_id,
        target_id,
    }
}

fn request(world: &World) -> SyncRequest {
    zonehop_world::sync_request("example.com", &world.source_id, &world.target_id)
}

async fn invoke(world: &World, request: SyncRequest) -> Result<SyncOutput, Error> {
    sync_records::handler(
        &world.moto.config().await,
        &Settings::default(),
        LambdaEvent::new(
            serde_json::to_value(&request).expect("the request serializes"),
            Context::default(),
        ),
    )
    .await
}

async fn read(
    world: &World,
    zone_id: &str,
    access: &zonehop::core::request::AccountAccess,
) -> Zone {
    let r53 = route53_in(&world.moto.config().await, access).await;
    read_zone(&r53, zone_id).await.expect("zone reads")
}

/// The zone less its apex SOA and NS.
fn without_apex(zone: &Zone) -> Vec<RecordSet> {
    zone.iter()
        .filter(|r| !is_apex_soa_or_ns(r, &domain()))
        .map(RecordSet::normalized)
        .collect()
}

/// What the target must hold: the generated records, with same-zone aliases naming the
/// target zone.
fn expected(records: &[RecordSet], target_id: &str) -> Vec<RecordSet> {
    let zone: Zone = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(alias) = &mut r.alias_target {
                if alias.hosted_zone_id == "SOURCE" {
                    alias.hosted_zone_id = target_id.to_owned();
                }
            }
            r.normalized()
        })
        .collect();
    zone.iter().cloned().collect()
}

/// Asserts two record lists are equal, naming the first differences rather than dumping both.
fn assert_same_records(actual: &[RecordSet], expected: &[RecordSet]) {
    let actual_zone: Zone = actual.iter().cloned().collect();
    let expected_zone: Zone = expected.iter().cloned().collect();
    let mut differences = Vec::new();
    for want in expected_zone.iter() {
        match actual_zone.get(&want.key()) {
            None => differences.push(format!("missing {}", want.key())),
            Some(got) if got != want => differences.push(format!(
                "differs {}:\n  got  {got:?}\n  want {want:?}",
                want.key()
            )),
            Some(_) => {}
        }
    }
    for got in actual_zone.iter() {
        if expected_zone.get(&got.key()).is_none() {
            differences.push(format!("unexpected {}", got.key()));
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences, first ones:\n{}",
        differences.len(),
        differences
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test]
async fn a_2000_record_zone_with_every_type_and_policy_is_copied_exactly_and_a_rerun_changes_nothing(
) {
    let records = zonegen::every_kind(&domain(), "SOURCE", 60);
    assert!(records.len() >= 2_000, "{} records", records.len());
    let world = world(&records).await;

    // WHEN sync-records runs
    let first = invoke(&world, request(&world))
        .await
        .expect("sync succeeds");

    // THEN the target holds exactly the source's records, apex SOA/NS aside
    assert!(first.in_sync);
    assert_eq!(first.creates, records.len());
    assert_eq!(first.upserts + first.deletes, 0);
    let target = read(&world, &world.target_id, &target_access()).await;
    assert_same_records(
        &without_apex(&target),
        &expected(&records, &world.target_id),
    );
    let types: std::collections::BTreeSet<RrType> = target.iter().map(|r| r.rtype).collect();
    assert_eq!(types.len(), RrType::ALL.len(), "every type made it");
    assert!(
        first.change_calls <= first.change_calls_lower_bound + 1,
        "{first:?}"
    );

    // AND a second run makes no change call at all
    let base = world.moto.config().await;
    let source = route53_in(&base, &source_access()).await;
    let counted_target = Counting::new(route53_in(&base, &target_access()).await);
    let again = sync_records(
        &source,
        &counted_target,
        &zonehop::adapters::dynamodb::NoLedger,
        &zonehop::ports::clock::SystemClock,
        &request(&world),
        &Settings::default(),
    )
    .await
    .expect("re-run succeeds");
    assert_eq!(counted_target.changes(), 0);
    assert_eq!(again.creates + again.upserts + again.deletes, 0);
    assert!(again.in_sync);
}

#[tokio::test]
async fn a_dry_run_returns_the_plan_and_writes_nothing() {
    let records = zonegen::every_kind(&domain(), "SOURCE", 2);
    let world = world(&records).await;
    let before = read(&world, &world.target_id, &target_access()).await;

    let mut dry = request(&world);
    dry.dry_run = true;
    let plan = invoke(&world, dry).await.expect("dry run succeeds");

    assert!(plan.dry_run);
    assert_eq!(plan.creates, records.len());
    assert!(plan.change_calls >= 1);
    assert!(!plan.sample.is_empty());
    assert_eq!(
        read(&world, &world.target_id, &target_access()).await,
        before
    );
}

#[tokio::test]
async fn subtrees_kept_in_the_source_are_not_copied() {
    let a =
        |n: &str| RecordSet::simple(Name::parse(n).expect("name"), RrType::A, 60, &["192.0.2.1"]);
    let records = vec![
        a("www.example.com"),
        a("dev.example.com"),
        a("api.dev.example.com"),
    ];
    let world = world(&records).await;
    let mut req = request(&world);
    req.keep_in_source = vec!["dev.example.com".into()];

    invoke(&world, req).await.expect("sync succeeds");

    let names: Vec<String> = without_apex(&read(&world, &world.target_id, &target_access()).await)
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(names, ["www.example.com."]);
}

#[tokio::test]
async fn an_adopted_target_is_not_overwritten_beyond_the_limit_and_says_which_records() {
    let a =
        |n: &str, ip: &str| RecordSet::simple(Name::parse(n).expect("name"), RrType::A, 60, &[ip]);
    let moto = Moto::start().await;
    let base = moto.config().await;
    let source_id = seed_zone(
        &base,
        &source_access(),
        &domain(),
        &[a("www.example.com", "192.0.2.1")],
    )
    .await;
    // The target was built by IaC and already holds records of its own.
    let target_id = seed_zone(
        &base,
        &target_access(),
        &domain(),
        &[
            a("www.example.com", "192.0.2.99"),
            a("legacy.example.com", "192.0.2.98"),
        ],
    )
    .await;
    let world = World {
        moto,
        source_id,
        target_id,
    };
    let before = read(&world, &world.target_id, &target_access()).await;
    let mut req = request(&world);
    req.target.adopted = true;

    let refused = invoke(&world, req.clone()).await.expect_err("refused");
    assert_eq!(refused.error_type(), "OverwriteLimitExceeded");
    let message = refused.to_string();
    assert!(
        message.contains("www.example.com. A") && message.contains("legacy.example.com. A"),
        "{message}"
    );
    assert!(message.contains("maxOverwrites to at least 2"), "{message}");
    assert_eq!(
        read(&world, &world.target_id, &target_access()).await,
        before,
        "nothing changed"
    );

    req.max_overwrites = 2;
    let done = invoke(&world, req).await.expect("allowed once raised");
    assert_eq!((done.upserts, done.deletes), (1, 1));
}

#[tokio::test]
async fn records_that_cannot_move_stop_the_sync_before_any_write() {
    let mut checked = RecordSet::simple(
        Name::parse("fo.example.com").expect("name"),
        RrType::A,
        60,
        &["192.0.2.1"],
    );
    checked.set_identifier = Some("primary".into());
    checked.failover = Some(zonehop::core::zone::Failover::Primary);
    checked.health_check_id = Some("0b3f5f4e-1111-2222-3333-444444444444".into());
    let world = world(&[checked]).await;
    let before = read(&world, &world.target_id, &target_access()).await;

    let blocked = invoke(&world, request(&world)).await.expect_err("blocked");
    assert_eq!(blocked.error_type(), "MigrationBlocked");
    assert!(blocked.to_string().contains("fo.example.com. A [primary]"));
    assert_eq!(
        read(&world, &world.target_id, &target_access()).await,
        before
    );

    // Dropping health checks is the operator's explicit choice.
    let mut req = request(&world);
    req.health_checks = zonehop::core::plan::HealthCheckPolicy::Drop;
    let moved = invoke(&world, req).await.expect("moves without the check");
    assert_eq!(moved.warnings.len(), 1);
}

#[tokio::test]
async fn a_bad_request_fails_with_a_named_error_and_changes_nothing() {
    let world = world(&zonegen::every_kind(&domain(), "SOURCE", 1)).await;
    let before = read(&world, &world.target_id, &target_access()).await;
    type Mutation = Box<dyn Fn(&mut SyncRequest)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "keepInSource",
            Box::new(|r| r.keep_in_source = vec!["dev.example.org".into()]),
        ),
        ("domain", Box::new(|r| r.domain = "com".into())),
        (
            "target.hostedZoneId",
            Box::new(|r| r.target.zone.hosted_zone_id = None),
        ),
        (
            "source.roleArn",
            Box::new(|r| r.source.access.role_arn = Some("admin".into())),
        ),
        (
            "same zone",
            Box::new(|r| r.target.zone.hosted_zone_id = r.source.hosted_zone_id.clone()),
        ),
    ];
    for (what, mutate) in cases {
        let mut req = request(&world);
        mutate(&mut req);
        let err = invoke(&world, req).await.expect_err(what);
        assert_eq!(err.error_type(), "InvalidRequest", "{what}: {err}");
    }
    // A zone of another domain is caught before any write too.
    let other = seed_zone(
        &world.moto.config().await,
        &target_access(),
        &Name::parse("example.org").expect("name"),
        &[],
    )
    .await;
    let mut req = request(&world);
    req.target.zone.hosted_zone_id = Some(other);
    assert_eq!(
        invoke(&world, req)
            .await
            .expect_err("mismatch")
            .error_type(),
        "ZoneNameMismatch"
    );
    assert_eq!(
        read(&world, &world.target_id, &target_access()).await,
        before
    );
}

#[test]
fn the_sample_events_are_valid_requests() {
    let root = zonehop_world::repo_root().join("tests/events");
    let sync: SyncRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("sync-records.json")).expect("sample event"),
    )
    .expect("sync-records.json is a SyncRequest");
    assert!(sync.dry_run, "the sample is safe to invoke");
    assert_eq!(sync.keep_in_source, ["dev.example.com"]);
    let create: zonehop::steps::create_zone::CreateZoneRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("create-zone.json")).expect("sample event"),
    )
    .expect("create-zone.json is a CreateZoneRequest");
    assert_eq!(create.domain, "example.com");
    let verify: zonehop::steps::verify_zones::VerifyRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("verify-zones.json")).expect("sample event"),
    )
    .expect("verify-zones.json is a VerifyRequest");
    assert!(verify.resolver.is_some());
    let delegate: zonehop::steps::delegate_subdomain::DelegateRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("delegate-subdomain.json")).expect("sample event"),
    )
    .expect("delegate-subdomain.json is a DelegateRequest");
    assert_eq!(delegate.subdomain, "dev.example.com");
    let propagation: zonehop::steps::check_propagation::PropagationRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("check-propagation.json")).expect("sample event"),
    )
    .expect("check-propagation.json is a PropagationRequest");
    assert_eq!(propagation.probe.resolvers.len(), 1);
    let swap: zonehop::steps::swap_nameservers::SwapRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("swap-nameservers.json")).expect("sample event"),
    )
    .expect("swap-nameservers.json is a SwapRequest");
    assert_eq!(
        swap.registrar.kind,
        zonehop::core::request::RegistrarKind::Route53domains
    );
    let back: zonehop::steps::rollback::RollbackRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("rollback.json")).expect("sample event"),
    )
    .expect("rollback.json is a RollbackRequest");
    assert_eq!(back.domain, "example.com");
    for file in ["lower-ns-ttl.json", "finalize.json"] {
        let zones: zonehop::core::request::BothZones =
            serde_json::from_str(&std::fs::read_to_string(root.join(file)).expect("sample event"))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(zones.ns_ttl.during, 300);
    }
    let cutover: zonehop::steps::cutover::CutoverRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("cutover.json")).expect("sample event"),
    )
    .expect("cutover.json is a CutoverRequest");
    assert_eq!(cutover.records.len(), 1);
    let preflight: zonehop::steps::preflight::PreflightRequest = serde_json::from_str(
        &std::fs::read_to_string(root.join("preflight.json")).expect("sample event"),
    )
    .expect("preflight.json is a PreflightRequest (the request of docs/design.md)");
    assert!(preflight.dry_run);
}

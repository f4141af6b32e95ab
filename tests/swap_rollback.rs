//! swap-nameservers and rollback against moto's Route 53 and Route 53 Domains.

use zonehop::adapters::dynamodb::DynamoLedger;
use zonehop::adapters::parent_zone::NO_PARENT;
use zonehop::adapters::route53::Route53;
use zonehop::adapters::route53domains::Route53Domains;
use zonehop::core::delegation::canonical_servers;
use zonehop::core::name::Name;
use zonehop::core::request::ZoneRef;
use zonehop::core::request::{RegistrarKind, RegistrarRef};
use zonehop::core::zone::{RecordSet, RrType};
use zonehop::ports::clock::SystemClock;
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::ports::registrar::Registrar;
use zonehop::settings::Settings;
use zonehop::steps::rollback::{rollback, RollbackRequest};
use zonehop::steps::swap_nameservers::{swap_nameservers, SwapRequest};
use zonehop_world::moto::Moto;
use zonehop_world::registrar::{register, registrar_access};
use zonehop_world::{route53_in, seed_zone, source_access, target_access};

fn n(s: &str) -> Name {
    Name::parse(s).expect("name")
}

async fn apex_ns(r53: &impl HostedZones, zone_id: &str) -> Vec<String> {
    let zone = read_zone(r53, zone_id).await.expect("zone reads");
    let values: Vec<String> = zone
        .iter()
        .find(|r| r.name == n("example.com") && r.rtype == RrType::NS)
        .map(|r| r.values().map(str::to_owned).collect())
        .unwrap_or_default();
    canonical_servers(&values)
}

/// The servers Route 53 assigned to a zone.
async fn servers_of(r53: &Route53, zone_id: &str) -> Vec<String> {
    canonical_servers(&r53.get_zone(zone_id).await.expect("zone").name_servers)
}

/// GIVEN example.com in a source and a target account (holding `records`), registered in
/// the registrar account.
struct Setup {
    _moto: Moto,
    source: Route53,
    target: Route53,
    registrar: Route53Domains,
    ledger: DynamoLedger,
    source_id: String,
    target_id: String,
}

async fn setup(records: &[RecordSet]) -> Setup {
    let moto = Moto::start().await;
    let base = moto.config().await;
    zonehop_world::stepfunctions::create_ledger(&base)
        .await
        .expect("the ledger table");
    let source_id = seed_zone(&base, &source_access(), &n("example.com"), records).await;
    let target_id = seed_zone(&base, &target_access(), &n("example.com"), records).await;
    register(&base, "example.com").await;
    Setup {
        source: route53_in(&base, &source_access()).await,
        target: route53_in(&base, &target_access()).await,
        registrar: Route53Domains::new(
            &zonehop::adapters::accounts::config_with_role(&base, &registrar_access(), "t").await,
        ),
        ledger: DynamoLedger::new(&base, zonehop_world::stepfunctions::LEDGER_TABLE),
        source_id,
        target_id,
        _moto: moto,
    }
}

impl Setup {
    /// The swap of example.com from the source zone to the target zone.
    fn swap(&self, domain: &str, registrar: RegistrarRef) -> SwapRequest {
        SwapRequest {
            execution_id: None,
            domain: domain.into(),
            source: ZoneRef {
                hosted_zone_id: Some(self.source_id.clone()),
                access: source_access(),
            },
            target: ZoneRef {
                hosted_zone_id: Some(self.target_id.clone()),
                access: target_access(),
            },
            registrar,
        }
    }

    async fn registration(&self) -> Vec<String> {
        self.registrar
            .name_servers(&n("example.com"))
            .await
            .expect("registration")
    }
}

#[tokio::test]
async fn the_swap_points_registration_and_old_apex_ns_at_the_new_servers_and_rollback_puts_both_back(
) {
    let www = [RecordSet::simple(
        n("www.example.com"),
        RrType::A,
        60,
        &["203.0.113.7"],
    )];
    let setup = setup(&www).await;
    let (source, target, registrar) = (&setup.source, &setup.target, &setup.registrar);
    let old = servers_of(source, &setup.source_id).await;
    let new = servers_of(target, &setup.target_id).await;
    assert_ne!(old, new);
    let registrar_ref = RegistrarRef {
        kind: RegistrarKind::Route53domains,
        access: registrar_access(),
        ..Default::default()
    };
    let swap = setup.swap("example.com", registrar_ref.clone());
    let settings = Settings::default();

    // WHEN the swap runs
    let out = swap_nameservers(
        source,
        target,
        registrar,
        &setup.ledger,
        &SystemClock,
        &swap,
        &settings,
    )
    .await
    .expect("swap");

    // THEN the registration and the old zone's own apex NS name the new servers
    assert_eq!(setup.registration().await, new);
    assert_eq!(apex_ns(source, &setup.source_id).await, new);
    assert!(out.registration_changed && out.source_apex_ns_changed);
    assert_eq!(out.source_apex_ns_before, old);
    assert!(out.operation_id.is_some());

    // AND a second run changes nothing
    let again = swap_nameservers(
        source,
        target,
        registrar,
        &setup.ledger,
        &SystemClock,
        &swap,
        &settings,
    )
    .await
    .expect("re-run");
    assert!(!again.registration_changed && !again.source_apex_ns_changed);

    // WHEN rollback runs, both point at the old zone's own servers again
    let back = RollbackRequest {
        execution_id: None,
        domain: "example.com".into(),
        source: swap.source.clone(),
        registrar: registrar_ref,
    };
    let undone = rollback(
        source,
        registrar,
        NO_PARENT,
        &setup.ledger,
        &SystemClock,
        &back,
        &settings,
    )
    .await
    .expect("rollback");
    assert!(undone.registration_changed && undone.source_apex_ns_changed);
    assert_eq!(setup.registration().await, old);
    assert_eq!(apex_ns(source, &setup.source_id).await, old);
    let twice = rollback(
        source,
        registrar,
        NO_PARENT,
        &setup.ledger,
        &SystemClock,
        &back,
        &settings,
    )
    .await
    .expect("rollback again");
    assert!(!twice.registration_changed && !twice.source_apex_ns_changed);
}

#[tokio::test]
async fn with_a_manual_registrar_only_the_old_apex_ns_moves_and_rollback_names_the_operators_part()
{
    let setup = setup(&[]).await;
    let registered = setup.registration().await;
    let old = apex_ns(&setup.source, &setup.source_id).await;
    let new = apex_ns(&setup.target, &setup.target_id).await;
    let manual = RegistrarRef {
        kind: RegistrarKind::Manual,
        ..Default::default()
    };
    let swap = setup.swap("example.com", manual.clone());

    let swapped = swap_nameservers(
        &setup.source,
        &setup.target,
        &setup.registrar,
        &setup.ledger,
        &SystemClock,
        &swap,
        &Settings::default(),
    )
    .await
    .expect("swap");
    assert_eq!(swapped.name_servers, new);
    assert!(!swapped.registration_changed && swapped.registration_before.is_empty());
    assert!(swapped.source_apex_ns_changed);
    assert_eq!(apex_ns(&setup.source, &setup.source_id).await, new);

    let back = rollback(
        &setup.source,
        &setup.registrar,
        NO_PARENT,
        &setup.ledger,
        &SystemClock,
        &RollbackRequest {
            execution_id: None,
            domain: "example.com".into(),
            source: swap.source.clone(),
            registrar: manual,
        },
        &Settings::default(),
    )
    .await
    .expect("rollback");
    assert!(back.source_apex_ns_changed && !back.registration_changed);
    assert_eq!(apex_ns(&setup.source, &setup.source_id).await, old);
    let action = back.operator_action.expect("the operator's part");
    assert!(
        action.contains("example.com") && old.iter().all(|s| action.contains(s.as_str())),
        "{action}"
    );
    assert_eq!(
        setup.registration().await,
        registered,
        "zonehop never touches a manual registration"
    );
}

#[tokio::test]
async fn a_bad_request_changes_nothing() {
    let setup = setup(&[]).await;
    let before = setup.registration().await;
    let apex_before = apex_ns(&setup.source, &setup.source_id).await;
    let registrar = RegistrarRef {
        kind: RegistrarKind::Route53domains,
        access: registrar_access(),
        ..Default::default()
    };
    let wrong = swap_nameservers(
        &setup.source,
        &setup.target,
        &setup.registrar,
        &setup.ledger,
        &SystemClock,
        &setup.swap("example.org", registrar),
        &Settings::default(),
    )
    .await;
    assert_eq!(
        wrong.expect_err("wrong zone").error_type(),
        "ZoneNameMismatch"
    );
    assert_eq!(setup.registration().await, before);
    assert_eq!(apex_ns(&setup.source, &setup.source_id).await, apex_before);
}

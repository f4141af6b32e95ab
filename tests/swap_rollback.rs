//! swap-nameservers and rollback against moto's Route 53 and Route 53 Domains.

use zonehop::hosted_zones::{read_zone, HostedZones};
use zonehop::name::Name;
use zonehop::registrar::{canonical_servers, Registrar, Route53Domains};
use zonehop::request::ZoneRef;
use zonehop::swap::{
    rollback, swap_nameservers, RegistrarKind, RegistrarRef, RollbackRequest, SwapRequest,
    SwapSettings,
};
use zonehop::zone::{RecordSet, RrType};
use zonehop_tests::moto::Moto;
use zonehop_tests::registrar::{register, registrar_access};
use zonehop_tests::{route53_in, seed_zone, source_access, target_access};

fn n(s: &str) -> Name {
    Name::parse(s).expect("name")
}

async fn apex_ns(r53: &impl HostedZones, zone_id: &str) -> Vec<String> {
    let zone = read_zone(r53, zone_id, &Default::default(), &Default::default())
        .await
        .expect("zone reads");
    let values: Vec<String> = zone
        .iter()
        .find(|r| r.name == n("example.com") && r.rtype == RrType::NS)
        .map(|r| r.values().map(str::to_owned).collect())
        .unwrap_or_default();
    canonical_servers(&values)
}

#[tokio::test]
async fn the_swap_points_registration_and_old_apex_ns_at_the_new_servers_and_rollback_puts_both_back(
) {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let www = [RecordSet::simple(
        n("www.example.com"),
        RrType::A,
        60,
        &["203.0.113.7"],
    )];
    let source_id = seed_zone(&base, &source_access(), &n("example.com"), &www).await;
    let target_id = seed_zone(&base, &target_access(), &n("example.com"), &www).await;
    register(&base, "example.com").await;
    let source = route53_in(&base, &source_access()).await;
    let target = route53_in(&base, &target_access()).await;
    let registrar =
        Route53Domains::new(&zonehop::accounts::config_for(&base, &registrar_access(), "t").await);
    let old = canonical_servers(
        &source
            .get_zone(&source_id)
            .await
            .expect("zone")
            .name_servers,
    );
    let new = canonical_servers(
        &target
            .get_zone(&target_id)
            .await
            .expect("zone")
            .name_servers,
    );
    assert_ne!(old, new);
    let registrar_ref = RegistrarRef {
        kind: RegistrarKind::Route53domains,
        access: registrar_access(),
    };
    let swap = SwapRequest {
        domain: "example.com".into(),
        source: ZoneRef {
            hosted_zone_id: Some(source_id.clone()),
            access: source_access(),
        },
        target: ZoneRef {
            hosted_zone_id: Some(target_id.clone()),
            access: target_access(),
        },
        registrar: registrar_ref.clone(),
    };
    let settings = SwapSettings::default();

    // WHEN the swap runs
    let out = swap_nameservers(&source, &target, &registrar, &swap, &settings)
        .await
        .expect("swap");

    // THEN the registration and the old zone's own apex NS name the new servers
    assert_eq!(
        registrar
            .name_servers(&n("example.com"))
            .await
            .expect("registration"),
        new
    );
    assert_eq!(apex_ns(&source, &source_id).await, new);
    assert!(out.registration_changed && out.source_apex_ns_changed);
    assert_eq!(out.source_apex_ns_before, old);
    assert!(out.operation_id.is_some());

    // AND a second run changes nothing
    let again = swap_nameservers(&source, &target, &registrar, &swap, &settings)
        .await
        .expect("re-run");
    assert!(!again.registration_changed && !again.source_apex_ns_changed);

    // WHEN rollback runs, both point at the old zone's own servers again
    let back = RollbackRequest {
        domain: "example.com".into(),
        source: ZoneRef {
            hosted_zone_id: Some(source_id.clone()),
            access: source_access(),
        },
        registrar: registrar_ref,
    };
    let undone = rollback(&source, &registrar, &back, &settings)
        .await
        .expect("rollback");
    assert!(undone.registration_changed && undone.source_apex_ns_changed);
    assert_eq!(
        registrar
            .name_servers(&n("example.com"))
            .await
            .expect("registration"),
        old
    );
    assert_eq!(apex_ns(&source, &source_id).await, old);
    let twice = rollback(&source, &registrar, &back, &settings)
        .await
        .expect("rollback again");
    assert!(!twice.registration_changed && !twice.source_apex_ns_changed);
}

#[tokio::test]
async fn with_a_manual_registrar_only_the_old_apex_ns_moves_and_rollback_names_the_operators_part()
{
    let moto = Moto::start().await;
    let base = moto.config().await;
    let source_id = seed_zone(&base, &source_access(), &n("example.com"), &[]).await;
    let target_id = seed_zone(&base, &target_access(), &n("example.com"), &[]).await;
    register(&base, "example.com").await;
    let source = route53_in(&base, &source_access()).await;
    let target = route53_in(&base, &target_access()).await;
    let registrar =
        Route53Domains::new(&zonehop::accounts::config_for(&base, &registrar_access(), "t").await);
    let registered = registrar
        .name_servers(&n("example.com"))
        .await
        .expect("registration");
    let old = apex_ns(&source, &source_id).await;
    let new = apex_ns(&target, &target_id).await;
    let manual = RegistrarRef {
        kind: RegistrarKind::Manual,
        access: Default::default(),
    };
    let swap = SwapRequest {
        domain: "example.com".into(),
        source: ZoneRef {
            hosted_zone_id: Some(source_id.clone()),
            access: source_access(),
        },
        target: ZoneRef {
            hosted_zone_id: Some(target_id),
            access: target_access(),
        },
        registrar: manual.clone(),
    };

    let swapped = swap_nameservers(
        &source,
        &target,
        &registrar,
        &swap,
        &SwapSettings::default(),
    )
    .await
    .expect("swap");
    assert_eq!(swapped.name_servers, new);
    assert!(!swapped.registration_changed && swapped.registration_before.is_empty());
    assert!(swapped.source_apex_ns_changed);
    assert_eq!(apex_ns(&source, &source_id).await, new);

    let back = rollback(
        &source,
        &registrar,
        &RollbackRequest {
            domain: "example.com".into(),
            source: swap.source.clone(),
            registrar: manual,
        },
        &SwapSettings::default(),
    )
    .await
    .expect("rollback");
    assert!(back.source_apex_ns_changed && !back.registration_changed);
    assert_eq!(apex_ns(&source, &source_id).await, old);
    let action = back.operator_action.expect("the operator's part");
    assert!(
        action.contains("example.com") && old.iter().all(|s| action.contains(s.as_str())),
        "{action}"
    );
    assert_eq!(
        registrar
            .name_servers(&n("example.com"))
            .await
            .expect("registration"),
        registered,
        "zonehop never touches a manual registration"
    );
}

#[tokio::test]
async fn a_bad_request_changes_nothing() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let source_id = seed_zone(&base, &source_access(), &n("example.com"), &[]).await;
    let target_id = seed_zone(&base, &target_access(), &n("example.com"), &[]).await;
    register(&base, "example.com").await;
    let source = route53_in(&base, &source_access()).await;
    let target = route53_in(&base, &target_access()).await;
    let registrar =
        Route53Domains::new(&zonehop::accounts::config_for(&base, &registrar_access(), "t").await);
    let before = registrar
        .name_servers(&n("example.com"))
        .await
        .expect("registration");
    let apex_before = apex_ns(&source, &source_id).await;
    let swap = SwapRequest {
        domain: "example.org".into(),
        source: ZoneRef {
            hosted_zone_id: Some(source_id.clone()),
            access: source_access(),
        },
        target: ZoneRef {
            hosted_zone_id: Some(target_id),
            access: target_access(),
        },
        registrar: RegistrarRef {
            kind: RegistrarKind::Route53domains,
            access: registrar_access(),
        },
    };
    let wrong = swap_nameservers(
        &source,
        &target,
        &registrar,
        &swap,
        &SwapSettings::default(),
    )
    .await;
    assert_eq!(
        wrong.expect_err("wrong zone").error_type(),
        "ZoneNameMismatch"
    );
    assert_eq!(
        registrar
            .name_servers(&n("example.com"))
            .await
            .expect("registration"),
        before
    );
    assert_eq!(apex_ns(&source, &source_id).await, apex_before);
}

//! The migration state machine itself (statemachine/migration.asl.json) in moto's Step
//! Functions interpreter, every task served by the real function binaries through
//! `cargo lambda watch`, against moto and the local DNS world.
//!
//! The dry run, and the example zone's whole migration with TTLs scaled to seconds. Still
//! to come with the rehearsal (issue 4): a verify failure, rollback after the swap, the
//! manual registrar path, a second execution refused.

use std::time::Duration;

use serde_json::json;
use zonehop::export::load_export;
use zonehop::hosted_zones::read_zone;
use zonehop::Name;
use zonehop_tests::dnsworld::{DnsWorld, WorldOptions};
use zonehop_tests::registrar::{register, registrar_access};
use zonehop_tests::stepfunctions::LocalStepFunctions;
use zonehop_tests::{repo_root, route53_in, seed_zone, source_access, target_access};

const FUNCTIONS: [&str; 11] = [
    "check-propagation",
    "create-zone",
    "cutover",
    "delegate-subdomain",
    "finalize",
    "lower-ns-ttl",
    "preflight",
    "rollback",
    "swap-nameservers",
    "sync-records",
    "verify-zones",
];

fn access(role: &zonehop::accounts::AccountAccess, zone_id: Option<&str>) -> serde_json::Value {
    json!({ "hostedZoneId": zone_id, "roleArn": role.role_arn, "externalId": role.external_id })
}

/// GIVEN moto's interpreter and `cargo lambda watch` serving every function, all built.
async fn functions_started(test: &str) -> LocalStepFunctions {
    let log = std::env::temp_dir().join(format!(
        "zonehop-migration-{test}-{}.log",
        std::process::id()
    ));
    let local = LocalStepFunctions::start(&FUNCTIONS, &log).await;
    tokio::time::timeout(Duration::from_secs(900), local.warm_up())
        .await
        .expect("the functions build and answer");
    local
}

/// The bundled example zone, ready to seed.
fn example_records(domain: &Name) -> Vec<zonehop::zone::RecordSet> {
    let example = load_export(
        &std::fs::read_to_string(repo_root().join("tests/rehearsal/example.com.json"))
            .expect("example zone"),
    )
    .expect("example zone loads");
    zonehop_tests::records_to_seed(&example, domain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_runs_preflight_through_the_state_machine_and_changes_nothing() {
    let local = functions_started("dry-run").await;
    let base = local.moto.config().await;
    let domain = Name::parse("example.com").expect("name");
    let records = example_records(&domain);
    let source_id = seed_zone(&base, &source_access(), &domain, &records).await;
    register(&base, "example.com").await;
    let world = DnsWorld::start(
        WorldOptions::new(base.clone(), vec![source_access()]).registrar(registrar_access()),
    )
    .await
    .expect("the DNS world starts");
    world.settle().await.expect("served");
    let resolver = world.resolvers()[0].addr.to_string();
    let request = json!({
        "domain": "example.com",
        "source": access(&source_access(), Some(&source_id)),
        "target": access(&target_access(), None),
        "keepInSource": ["dev.example.com"],
        "registrar": { "type": "route53domains", "roleArn": registrar_access().role_arn, "externalId": registrar_access().external_id },
        "nsTtl": { "during": 5, "after": 60 },
        "probe": { "resolvers": [resolver] },
        "resolver": resolver,
        "dryRun": true
    });

    let execution = local
        .run(
            &repo_root().join("statemachine/migration.asl.json"),
            &[("EventBusName", "default")],
            "example-com-dry-run",
            &request,
            Duration::from_secs(120),
        )
        .await
        .expect("the execution ends");

    assert!(execution.succeeded(), "{}", execution.history_text());
    let states = execution.state_names();
    assert!(states.iter().any(|s| s == "Preflight"), "{states:?}");
    assert!(states.iter().any(|s| s == "Dry Run Complete"), "{states:?}");
    assert!(
        !states.iter().any(|s| s == "Create Zone"),
        "a dry run creates nothing: {states:?}"
    );
    let source = route53_in(&base, &source_access()).await;
    let after = read_zone(
        &source,
        &source_id,
        &Default::default(),
        &Default::default(),
    )
    .await
    .expect("source reads");
    assert!(
        !after
            .iter()
            .any(|r| r.name == Name::parse("_zonehop.example.com").expect("name")),
        "no canary on a dry run"
    );
    let target = route53_in(&base, &target_access()).await;
    assert!(
        zonehop::hosted_zones::HostedZones::zones_named(&target, &domain)
            .await
            .expect("list")
            .is_empty(),
        "no target zone on a dry run"
    );
}

/// TTLs scaled to seconds, as a rehearsal does: records and the apex NS/SOA at most `cap`.
fn scaled(records: &[zonehop::zone::RecordSet], cap: i64) -> Vec<zonehop::zone::RecordSet> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.ttl = r.ttl.map(|t| t.min(cap));
            r
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_zone_migrates_end_to_end_through_the_state_machine() {
    let local = functions_started("happy").await;
    let base = local.moto.config().await;
    let domain = Name::parse("example.com").expect("name");
    let records = example_records(&domain);
    let source_id = seed_zone(&base, &source_access(), &domain, &scaled(&records, 2)).await;
    let source = route53_in(&base, &source_access()).await;
    // The apex NS and SOA scaled too.
    let zone = read_zone(
        &source,
        &source_id,
        &Default::default(),
        &Default::default(),
    )
    .await
    .expect("reads");
    let apex: Vec<zonehop::plan::Change> = scaled(
        &zone
            .iter()
            .filter(|r| zonehop::plan::is_apex_soa_or_ns(r, &domain))
            .cloned()
            .collect::<Vec<_>>(),
        2,
    )
    .into_iter()
    .map(|record| zonehop::plan::Change {
        action: zonehop::plan::Action::Upsert,
        record,
    })
    .collect();
    zonehop::hosted_zones::HostedZones::change_records(&source, &source_id, &apex, "scale")
        .await
        .expect("scaled");
    register(&base, "example.com").await;
    let world = DnsWorld::start(
        WorldOptions::new(base.clone(), vec![source_access(), target_access()])
            .registrar(registrar_access())
            .ttls(zonehop_tests::dnsworld::Ttls {
                resolver_max: Some(5),
                resolver_max_negative: Some(1),
                ..zonehop_tests::dnsworld::Ttls::uniform(2)
            }),
    )
    .await
    .expect("the DNS world starts");
    world.settle().await.expect("served");
    let resolvers: Vec<String> = world
        .resolvers()
        .iter()
        .map(|r| r.addr.to_string())
        .collect();
    let request = json!({
        "domain": "example.com",
        "source": access(&source_access(), Some(&source_id)),
        "target": access(&target_access(), None),
        "keepInSource": ["dev.example.com"],
        "registrar": { "type": "route53domains", "roleArn": registrar_access().role_arn, "externalId": registrar_access().external_id },
        "nsTtl": { "during": 2, "after": 60 },
        "probe": { "resolvers": resolvers },
        "resolver": resolvers[0],
        "pacing": { "minWait": 1, "maxWait": 3 },
        "dryRun": false
    });

    let machine = local
        .sfn
        .create_state_machine_from_file(
            "migration",
            &repo_root().join("statemachine/migration.asl.json"),
            &local.substitutions(&[("EventBusName", "default")]),
        )
        .await
        .expect("state machine");
    let arn = local
        .sfn
        .start_execution(&machine, "example-com-1", &request)
        .await
        .expect("started");
    let ended = local.sfn.wait_for_end(&arn, Duration::from_secs(150)).await;
    let execution = ended.expect("the execution ends");
    assert!(execution.succeeded(), "{}", execution.history_text());
    let states = execution.state_names();
    for step in [
        "Preflight",
        "Create Zone",
        "Delegate Subdomains",
        "Sync Records",
        "Verify Zones",
        "Lower NS TTL",
        "Swap Nameservers",
        "Check Propagation",
        "Finalize",
    ] {
        assert!(
            states.iter().any(|s| s == step),
            "{step} did not run: {states:?}"
        );
    }
    assert!(!states.iter().any(|s| s == "Rollback"), "{states:?}");

    // The registration and the old apex NS name the new zone's servers.
    let output = execution.output.clone().expect("output");
    let target_id = output["target"]["hostedZoneId"]
        .as_str()
        .expect("target zone id")
        .to_owned();
    let target = route53_in(&base, &target_access()).await;
    let new_servers = zonehop::registrar::canonical_servers(
        &zonehop::hosted_zones::HostedZones::get_zone(&target, &target_id)
            .await
            .expect("target")
            .name_servers,
    );
    let registrar = zonehop::registrar::Route53Domains::new(
        &zonehop::accounts::config_for(&base, &registrar_access(), "t").await,
    );
    assert_eq!(
        zonehop::registrar::Registrar::name_servers(&registrar, &domain)
            .await
            .expect("registration"),
        new_servers
    );

    // The target holds the source's records less the apex SOA/NS, dev. delegated, no canary.
    let source_after = read_zone(
        &source,
        &source_id,
        &Default::default(),
        &Default::default(),
    )
    .await
    .expect("source");
    let target_after = read_zone(
        &target,
        &target_id,
        &Default::default(),
        &Default::default(),
    )
    .await
    .expect("target");
    let dev = Name::parse("dev.example.com").expect("name");
    let keys = |zone: &zonehop::zone::Zone| -> Vec<String> {
        zone.iter()
            .filter(|r| !zonehop::plan::is_apex_soa_or_ns(r, &domain))
            .map(|r| r.key().to_string())
            .collect()
    };
    assert_eq!(keys(&target_after), keys(&source_after));
    assert!(
        target_after
            .iter()
            .any(|r| r.name == dev && r.rtype == zonehop::zone::RrType::NS),
        "the delegation moved"
    );
    assert!(
        !source_after.iter().any(|r| r.name.is_below(&dev)),
        "dev's records live in its own zone"
    );
    assert!(
        !keys(&source_after)
            .iter()
            .any(|k| k.starts_with("_zonehop.")),
        "canaries removed"
    );

    // Safe was declared at safe_at, not before, and within one poll after.
    let propagation = &output["propagation"];
    let safe_at = propagation["safeAt"].as_i64().expect("safeAt");
    let declared = propagation["checkedAt"].as_i64().expect("checkedAt");
    assert!(propagation["safe"].as_bool().unwrap_or(false));
    assert!(
        declared >= safe_at && declared <= safe_at + 3 + 1,
        "declared {declared}, safe_at {safe_at}"
    );
    assert!(
        propagation["resolvers"]
            .as_array()
            .expect("resolvers")
            .iter()
            .all(|r| r["side"] == "new" && r["movedAt"].is_i64()),
        "{propagation}"
    );
}

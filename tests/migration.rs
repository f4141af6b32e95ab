//! The migration state machine itself (statemachine/migration.asl.json) in moto's Step
//! Functions interpreter, every task served by the real function binaries through
//! `cargo lambda watch`, against moto and the local DNS world.
//!
//! Today: the dry run. The full migration, rollback and manual paths arrive with the
//! rehearsal (issue 4).

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_runs_preflight_through_the_state_machine_and_changes_nothing() {
    let log = std::env::temp_dir().join(format!(
        "zonehop-migration-dry-run-{}.log",
        std::process::id()
    ));
    let local = LocalStepFunctions::start(&FUNCTIONS, &log).await;
    tokio::time::timeout(Duration::from_secs(900), local.warm_up())
        .await
        .expect("the functions build and answer");
    let base = local.moto.config().await;
    let domain = Name::parse("example.com").expect("name");
    let example = load_export(
        &std::fs::read_to_string(repo_root().join("tests/rehearsal/example.com.json"))
            .expect("example zone"),
    )
    .expect("example zone loads");
    let records: Vec<_> = example
        .iter()
        .filter(|r| !zonehop::plan::is_apex_soa_or_ns(r, &domain))
        .map(|r| {
            let mut r = r.clone();
            if let Some(alias) = &mut r.alias_target {
                alias.hosted_zone_id = "SOURCE".into();
            }
            r
        })
        .collect();
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

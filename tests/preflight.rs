//! preflight against moto (Route 53, Route 53 Domains, Step Functions) and the local DNS
//! world: every check before any write, then the canary that is also the domain's lock.

use zonehop::adapters::dynamodb::DynamoLedger;
use zonehop::adapters::route53::Route53;
use zonehop::adapters::route53domains::Route53Domains;
use zonehop::adapters::stepfunctions::StepFunctions;
use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::canary::canary_execution;
use zonehop::core::request::ProbeConfig;
use zonehop::core::request::ZoneRef;
use zonehop::core::request::{RegistrarKind, RegistrarRef};
use zonehop::core::zone::{Failover, RecordSet, RrType};
use zonehop::ports::hosted_zones::{read_zone, HostedZones};
use zonehop::ports::ledger::{Ledger, Lock};
use zonehop::settings::Settings;
use zonehop::steps::preflight::PreflightPorts;
use zonehop::steps::preflight::{preflight, PreflightOutput, PreflightRequest};
use zonehop::{Error, Name};
use zonehop_world::dnsworld::{DnsWorld, WorldOptions};
use zonehop_world::moto::Moto;
use zonehop_world::registrar::{register, registrar_access, set_name_servers};
use zonehop_world::{route53_in, seed_zone, source_access, target_access};

fn n(s: &str) -> Name {
    Name::parse(s).expect("name")
}

struct Setup {
    moto: Moto,
    world: DnsWorld,
    source: Route53,
    target: Route53,
    source_id: String,
}

async fn setup(records: &[RecordSet]) -> Setup {
    let moto = Moto::start().await;
    let base = moto.config().await;
    zonehop_world::stepfunctions::create_ledger(&base)
        .await
        .expect("the ledger table");
    let source_id = seed_zone(&base, &source_access(), &n("example.com"), records).await;
    register(&base, "example.com").await;
    // As in a real migration, the domain is delegated to the source zone (a registration that
    // names other servers is a stale source, which preflight refuses).
    let source = route53_in(&base, &source_access()).await;
    let servers = source
        .get_zone(&source_id)
        .await
        .expect("the source zone")
        .name_servers;
    set_name_servers(&base, "example.com", &servers).await;
    let world = DnsWorld::start(
        WorldOptions::new(base.clone(), vec![source_access()]).registrar(registrar_access()),
    )
    .await
    .expect("the DNS world starts");
    world.settle().await.expect("served");
    Setup {
        source,
        target: route53_in(&base, &target_access()).await,
        source_id,
        world,
        moto,
    }
}

fn request(s: &Setup, execution: &str) -> PreflightRequest {
    let resolver = s.world.resolvers()[0].addr.to_string();
    PreflightRequest {
        domain: "example.com".into(),
        source: ZoneRef {
            hosted_zone_id: Some(s.source_id.clone()),
            access: source_access(),
        },
        target: ZoneRef {
            hosted_zone_id: None,
            access: target_access(),
        },
        keep_in_source: vec!["dev.example.com".into()],
        registrar: RegistrarRef {
            kind: RegistrarKind::Route53domains,
            access: registrar_access(),
            ..Default::default()
        },
        ns_ttl: Default::default(),
        cutover: None,
        probe: ProbeConfig {
            resolvers: vec![resolver.clone()],
        },
        health_checks: Default::default(),
        dry_run: false,
        resolver: Some(resolver),
        execution_id: Some(execution.into()),
        pacing: None,
        max_overwrites: 0,
        stale_source_reason: None,
        defaults: None,
    }
}

async fn run(s: &Setup, request: &PreflightRequest) -> Result<PreflightOutput, Error> {
    let base = s.moto.config().await;
    let registrar = Route53Domains::new(
        &zonehop::adapters::accounts::config_with_role(&base, &registrar_access(), "t").await,
    );
    let ledger = DynamoLedger::new(&base, zonehop_world::stepfunctions::LEDGER_TABLE);
    let ports = PreflightPorts {
        source: &s.source,
        target: &s.target,
        registrar: &registrar,
        dns: &WireDns::default(),
        executions: &StepFunctions::new(&base),
        ledger: &ledger,
    };
    preflight(
        ports,
        &zonehop::ports::clock::SystemClock,
        request,
        &Settings::default(),
    )
    .await
}

async fn canary(s: &Setup) -> Option<RecordSet> {
    read_zone(&s.source, &s.source_id)
        .await
        .expect("source reads")
        .iter()
        .find(|r| r.name == n("_zonehop.example.com"))
        .cloned()
}

fn records() -> Vec<RecordSet> {
    vec![
        RecordSet::simple(n("www.example.com"), RrType::A, 300, &["203.0.113.7"]),
        RecordSet::simple(n("dev.example.com"), RrType::A, 60, &["198.51.100.5"]),
    ]
}

#[tokio::test]
async fn when_every_check_passes_the_canary_is_written_and_a_dry_run_writes_nothing() {
    let s = setup(&records()).await;
    let mut dry = request(&s, "run-1");
    dry.dry_run = true;
    let planned = run(&s, &dry).await.expect("dry run passes");
    assert!(!planned.canary_written);
    assert!(canary(&s).await.is_none());

    let out = run(&s, &request(&s, "run-1"))
        .await
        .expect("preflight passes");
    assert!(out.canary_written);
    assert_eq!(out.records_to_move, 1, "www moves; dev stays");
    assert_eq!(out.source_ns_ttl, 172_800);
    assert_eq!(
        out.live_delegation.len(),
        4,
        "the parent's delegation was read: {out:?}"
    );
    assert_eq!(out.timeline.len(), 2);
    let written = canary(&s).await.expect("canary");
    assert_eq!(canary_execution(&written).as_deref(), Some("run-1"));
    assert!(written.values().any(|v| v.contains("side=old")));
    // The same execution again: its own lock.
    assert!(run(&s, &request(&s, "run-1")).await.is_ok());
}

#[tokio::test]
async fn what_cannot_move_or_a_bad_request_stops_it_before_any_write() {
    let mut with_check = records();
    let mut checked = RecordSet::simple(n("fo.example.com"), RrType::A, 60, &["192.0.2.1"]);
    checked.set_identifier = Some("primary".into());
    checked.failover = Some(Failover::Primary);
    checked.health_check_id = Some("0b3f5f4e-1111-2222-3333-444444444444".into());
    with_check.push(checked);
    let s = setup(&with_check).await;

    let blocked = run(&s, &request(&s, "run-1")).await.expect_err("blocked");
    assert_eq!(blocked.error_type(), "MigrationBlocked");
    assert!(blocked.to_string().contains("fo.example.com. A [primary]"));
    let mut bad = request(&s, "run-1");
    bad.ns_ttl.during = 0;
    assert_eq!(
        run(&s, &bad).await.expect_err("bad").error_type(),
        "InvalidRequest"
    );
    let mut spinning = request(&s, "run-1");
    spinning.pacing = Some(zonehop::core::propagation::Pacing {
        min_wait: 0,
        max_wait: 60,
    });
    assert_eq!(
        run(&s, &spinning).await.expect_err("bad").error_type(),
        "InvalidRequest"
    );
    let mut no_probe = request(&s, "run-1");
    no_probe.probe.resolvers.clear();
    assert_eq!(
        run(&s, &no_probe).await.expect_err("bad").error_type(),
        "InvalidRequest"
    );
    assert!(canary(&s).await.is_none(), "nothing was written");
}

#[tokio::test]
async fn health_checks_keep_asks_the_source_account_for_each_check_a_record_names() {
    // GIVEN moto, the source account with one health check, and two failover primaries:
    // one names that check, the other a check the account does not have.
    let s = setup(&records()).await;
    let base = s.moto.config().await;
    let config = zonehop::adapters::accounts::config_with_role(&base, &source_access(), "t").await;
    let client = zonehop::adapters::accounts::route53_client(&config);
    let created = client
        .create_health_check()
        .caller_reference("zonehop-test-hc")
        .health_check_config(
            aws_sdk_route53::types::HealthCheckConfig::builder()
                .r#type(aws_sdk_route53::types::HealthCheckType::Http)
                .ip_address("192.0.2.1")
                .port(80)
                .resource_path("/health")
                .build()
                .expect("a health check config"),
        )
        .send()
        .await
        .expect("a health check in the source account");
    let real = created
        .health_check()
        .map(|h| h.id().to_owned())
        .expect("its id");
    let primary = |name: &str, check: &str| {
        let mut r = RecordSet::simple(n(name), RrType::A, 60, &["192.0.2.1"]);
        r.set_identifier = Some("primary".into());
        r.failover = Some(Failover::Primary);
        r.health_check_id = Some(check.into());
        r
    };
    let gone = "0b3f5f4e-1111-2222-3333-444444444444";
    let changes: Vec<zonehop::core::plan::Change> = [
        primary("fo1.example.com", &real),
        primary("fo2.example.com", gone),
    ]
    .into_iter()
    .map(|record| zonehop::core::plan::Change {
        action: zonehop::core::plan::Action::Create,
        record,
    })
    .collect();
    s.source
        .change_records(&s.source_id, &changes, "test")
        .await
        .expect("the failover records");
    let mut keep = request(&s, "run-1");
    keep.health_checks = zonehop::core::plan::HealthCheckPolicy::Keep;

    // THEN the missing one blocks by its record, the real one does not.
    let blocked = run(&s, &keep).await.expect_err("a missing check blocks");
    let text = blocked.to_string();
    assert!(text.contains("HealthCheckMissing"), "{text}");
    assert!(text.contains("fo2.example.com"), "{text}");
    assert!(!text.contains("fo1.example.com"), "{text}");
    assert!(canary(&s).await.is_none(), "nothing was written");

    // WHEN the record naming the missing check is gone, keep passes with its warning.
    s.source
        .change_records(
            &s.source_id,
            &[zonehop::core::plan::Change {
                action: zonehop::core::plan::Action::Delete,
                record: primary("fo2.example.com", gone),
            }],
            "test",
        )
        .await
        .expect("deleted");
    // (moto deleted every record set with the same SetIdentifier; tests/world patches it.)
    let left = read_zone(&s.source, &s.source_id).await.expect("the zone");
    assert!(
        left.iter().any(|r| r.name == n("fo1.example.com")),
        "deleting fo2's primary leaves fo1's"
    );
    let out = run(&s, &keep).await.expect("keep passes");
    assert!(
        out.warnings
            .iter()
            .any(|w| w.detail.contains(&format!("keeps health check {real}"))),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn a_second_execution_for_the_same_domain_is_refused_while_the_first_runs() {
    let s = setup(&records()).await;
    // A running execution in moto's Step Functions (its interpreter is off: it stays RUNNING).
    let sfn = aws_sdk_sfn::Client::new(&s.moto.config().await);
    let machine = sfn
        .create_state_machine()
        .name("zonehop-migration")
        .role_arn("arn:aws:iam::123456789012:role/zonehop-local")
        .definition(r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#)
        .send()
        .await
        .expect("state machine");
    let first = sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name("example-com-1")
        .send()
        .await
        .expect("execution")
        .execution_arn()
        .to_owned();
    run(&s, &request(&s, &first))
        .await
        .expect("the first execution takes the lock");

    let refused = run(
        &s,
        &request(
            &s,
            "arn:aws:states:us-east-1:123456789012:execution:zonehop-migration:example-com-2",
        ),
    )
    .await
    .expect_err("refused");
    assert_eq!(refused.error_type(), "MigrationInProgress");
    assert!(refused.to_string().contains(&first));

    // Once the first has stopped, the lock is taken over (with a warning).
    sfn.stop_execution()
        .execution_arn(&first)
        .send()
        .await
        .expect("stopped");
    let second = run(
        &s,
        &request(
            &s,
            "arn:aws:states:us-east-1:123456789012:execution:zonehop-migration:example-com-2",
        ),
    )
    .await
    .expect("taken over");
    assert!(second
        .warnings
        .iter()
        .any(|w| w.detail.contains("taken over")));
}

#[tokio::test]
async fn of_two_executions_started_in_the_same_second_exactly_one_takes_the_lock() {
    let s = setup(&records()).await;
    // Both executions really run (moto's interpreter is off: they stay RUNNING), so that
    // under any timing the loser finds a live holder: on a loaded machine one preflight can
    // finish before the other reads the lock, and a holder that is not running would be
    // taken over.
    let sfn = aws_sdk_sfn::Client::new(&s.moto.config().await);
    let machine = sfn
        .create_state_machine()
        .name("zonehop-migration")
        .role_arn("arn:aws:iam::123456789012:role/zonehop-local")
        .definition(r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#)
        .send()
        .await
        .expect("state machine");
    let mut running = Vec::new();
    for name in ["same-second-1", "same-second-2"] {
        running.push(
            sfn.start_execution()
                .state_machine_arn(machine.state_machine_arn())
                .name(name)
                .send()
                .await
                .expect("execution")
                .execution_arn()
                .to_owned(),
        );
    }
    let (first, second) = (running[0].as_str(), running[1].as_str());
    let (a, b) = (request(&s, first), request(&s, second));
    // Both pass every check, reading no lock and no canary; then both ask for the lock.
    let (ra, rb) = tokio::join!(run(&s, &a), run(&s, &b));
    let outcomes = [(first, &ra), (second, &rb)];
    let winners: Vec<&str> = outcomes
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(e, _)| *e)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one proceeds: {ra:?} / {rb:?}");
    let loser = outcomes
        .iter()
        .find_map(|(_, r)| r.as_ref().err())
        .expect("the other is refused");
    assert_eq!(loser.error_type(), "MigrationInProgress");
    assert!(loser.to_string().contains(winners[0]), "{loser}");
    // The canary names the winner: the loser wrote nothing.
    let canary = canary(&s).await.expect("a canary");
    assert_eq!(canary_execution(&canary).as_deref(), Some(winners[0]));

    // The conditional write itself, many times over on fresh domains: one winner each.
    let ledger = DynamoLedger::new(
        &s.moto.config().await,
        zonehop_world::stepfunctions::LEDGER_TABLE,
    );
    for round in 0..20 {
        let domain = n(&format!("race{round}.example"));
        let (x, y) = tokio::join!(
            ledger.take_lock(&domain, "exec-x", None),
            ledger.take_lock(&domain, "exec-y", None)
        );
        let taken = [&x, &y]
            .iter()
            .filter(|r| matches!(r, Ok(Lock::Taken)))
            .count();
        assert_eq!(taken, 1, "round {round}: {x:?} / {y:?}");
    }
}

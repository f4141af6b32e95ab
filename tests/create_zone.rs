//! create-zone against moto server over HTTP, acting in the target account by role.

use create_zone::handler;
use lambda_runtime::{Context, LambdaEvent};
use zonehop::core::request::ZoneRef;
use zonehop::ports::hosted_zones::HostedZones;
use zonehop::steps::create_zone::{CreateZoneOutput, CreateZoneRequest, TargetZone};
use zonehop::Settings;
use zonehop::{Error, Name};
use zonehop_world::moto::Moto;
use zonehop_world::{route53_in, seed_zone, source_access, target_access};

fn request(execution: &str) -> CreateZoneRequest {
    CreateZoneRequest {
        domain: "example.com".into(),
        target: TargetZone {
            zone: ZoneRef {
                hosted_zone_id: None,
                access: target_access(),
            },
            allow_duplicate_zone: false,
        },
        execution_id: Some(execution.into()),
    }
}

async fn invoke(moto: &Moto, request: CreateZoneRequest) -> Result<CreateZoneOutput, Error> {
    handler(
        &moto.config().await,
        &Settings::default(),
        LambdaEvent::new(
            serde_json::to_value(&request).expect("the request serializes"),
            Context::default(),
        ),
    )
    .await
}

#[tokio::test]
async fn creates_the_zone_in_the_target_account_and_a_retry_returns_the_same_zone() {
    let moto = Moto::start().await;
    let first = invoke(&moto, request("run-1")).await.expect("created");
    assert!(first.created && !first.adopted);
    assert_eq!(first.name_servers.len(), 4);

    let retry = invoke(&moto, request("run-1"))
        .await
        .expect("retry succeeds");
    assert_eq!(retry.hosted_zone_id, first.hosted_zone_id);
    assert!(!retry.created);
    assert_eq!(retry.name_servers, first.name_servers);

    // The zone lives in the target account only.
    let target = route53_in(&moto.config().await, &target_access()).await;
    let source = route53_in(&moto.config().await, &source_access()).await;
    let domain = Name::parse("example.com").expect("name");
    assert_eq!(target.zones_named(&domain).await.expect("list").len(), 1);
    assert!(source.zones_named(&domain).await.expect("list").is_empty());
}

#[tokio::test]
async fn a_second_zone_of_the_same_name_is_refused_unless_asked_for() {
    let moto = Moto::start().await;
    let first = invoke(&moto, request("run-1")).await.expect("created");
    // A new execution after run-1 failed adopts the zone run-1 created.
    let resumed = invoke(&moto, request("run-2")).await.expect("adopted");
    assert_eq!(resumed.hosted_zone_id, first.hosted_zone_id);
    assert!(!resumed.created);

    // A zone someone else made beside it: which one is meant is not zonehop's to guess.
    let user_zone = seed_zone(
        &moto.config().await,
        &target_access(),
        &Name::parse("example.com").expect("name"),
        &[],
    )
    .await;
    let refused = invoke(&moto, request("run-2")).await.expect_err("refused");
    assert_eq!(refused.error_type(), "ZoneAlreadyExists");
    assert!(refused.to_string().contains(&first.hosted_zone_id));
    assert!(refused.to_string().contains(&user_zone));

    let mut allowed = request("run-2");
    allowed.target.allow_duplicate_zone = true;
    let second = invoke(&moto, allowed).await.expect("created on request");
    assert_ne!(second.hosted_zone_id, first.hosted_zone_id);
    assert_ne!(second.hosted_zone_id, user_zone);
}

#[tokio::test]
async fn a_given_zone_is_adopted_after_its_name_is_checked() {
    let moto = Moto::start().await;
    let base = moto.config().await;
    let existing = seed_zone(
        &base,
        &target_access(),
        &Name::parse("example.com").expect("name"),
        &[],
    )
    .await;
    let other = seed_zone(
        &base,
        &target_access(),
        &Name::parse("example.org").expect("name"),
        &[],
    )
    .await;

    let mut adopt = request("run-1");
    adopt.target.zone.hosted_zone_id = Some(existing.clone());
    let adopted = invoke(&moto, adopt).await.expect("adopted");
    assert!(adopted.adopted && !adopted.created);
    assert_eq!(adopted.hosted_zone_id, existing);
    assert_eq!(adopted.name_servers.len(), 4);

    let mut wrong = request("run-1");
    wrong.target.zone.hosted_zone_id = Some(other);
    assert_eq!(
        invoke(&moto, wrong)
            .await
            .expect_err("mismatch")
            .error_type(),
        "ZoneNameMismatch"
    );

    let mut missing = request("run-1");
    missing.target.zone.hosted_zone_id = Some("Z0000000000MISSING".into());
    assert_eq!(
        invoke(&moto, missing)
            .await
            .expect_err("missing")
            .error_type(),
        "ZoneNotFound"
    );
}

#[tokio::test]
async fn a_bad_request_fails_before_any_call() {
    // No emulator at all: a bad request must not need one.
    let base = zonehop_world::base_config("http://127.0.0.1:9").await;
    for (mutate, field) in [
        (
            Box::new(|r: &mut CreateZoneRequest| r.domain = "not a domain..".into())
                as Box<dyn Fn(&mut CreateZoneRequest)>,
            "domain",
        ),
        (
            Box::new(|r: &mut CreateZoneRequest| {
                r.target.zone.access.role_arn = Some("root".into())
            }),
            "target.roleArn",
        ),
    ] {
        let mut req = request("run-1");
        mutate(&mut req);
        let err = handler(
            &base,
            &Settings::default(),
            LambdaEvent::new(
                serde_json::to_value(&req).expect("the request serializes"),
                Context::default(),
            ),
        )
        .await
        .expect_err(field);
        assert_eq!(err.error_type(), "InvalidRequest");
        assert!(err.to_string().contains(field), "{err}");
    }
}

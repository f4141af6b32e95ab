//! Issue #13.1: what a warm Lambda keeps. sync-records' real handler runs twice in one
//! process, with the base configuration its `main` builds (the process's one HTTP client
//! and identity cache), against moto server behind a counting proxy that keeps connections
//! open (moto's own server closes each after one reply). The second invocation must make no
//! AssumeRole call and open no new connection.

use aws_sdk_route53::config::Credentials;
use lambda_runtime::{Context, LambdaEvent};
use zonehop::settings::Settings;
use zonehop::steps::sync_records::SyncOutput;
use zonehop::Name;
use zonehop_world::keepalive::{KeepAliveProxy, ProxyCounts};
use zonehop_world::moto::Moto;
use zonehop_world::{seed_zone, source_access, sync_request, target_access, zonegen};

async fn invoke(
    base: &aws_config::SdkConfig,
    request: &zonehop::steps::sync_records::SyncRequest,
) -> SyncOutput {
    sync_records::handler(
        base,
        &Settings::default(),
        LambdaEvent::new(
            serde_json::to_value(request).expect("the request serializes"),
            Context::default(),
        ),
    )
    .await
    .expect("sync-records succeeds")
}

#[tokio::test]
async fn a_warm_invocation_assumes_no_role_and_opens_no_connection() {
    // GIVEN a source zone with records and an empty target zone, in two accounts
    let domain = Name::parse("example.com").expect("name");
    let records = zonegen::every_kind(&domain, "SOURCE", 2);
    let moto = Moto::start().await;
    let seeding = moto.config().await;
    let source_id = seed_zone(&seeding, &source_access(), &domain, &records).await;
    let target_id = seed_zone(&seeding, &target_access(), &domain, &[]).await;
    let request = sync_request("example.com", &source_id, &target_id);

    // AND the function's base configuration, reaching moto through the counting proxy
    let proxy = KeepAliveProxy::start(([127, 0, 0, 1], moto.port()).into())
        .await
        .expect("the proxy listens");
    let base = zonehop::adapters::accounts::shared_loader()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(proxy.endpoint())
        .credentials_provider(Credentials::new(
            "AKIAZONEHOPTEST00000",
            "zonehop-test-secret",
            None,
            None,
            "tests",
        ))
        .load()
        .await;

    // WHEN sync-records runs cold, then warm
    let before = proxy.counts();
    let cold_output = invoke(&base, &request).await;
    let cold = proxy.counts() - before;
    let warm_output = invoke(&base, &request).await;
    let warm = proxy.counts() - before - cold;
    eprintln!("cold invocation: {cold:?}\nwarm invocation: {warm:?}");

    // THEN both did their work
    assert!(cold_output.in_sync && warm_output.in_sync);
    assert_eq!(cold_output.creates, records.len());
    assert_eq!(
        warm_output.creates + warm_output.upserts + warm_output.deletes,
        0
    );
    // AND the cold one assumed each account's role once and opened connections
    assert_eq!(cold.assume_role, 2, "cold: {cold:?}");
    assert!(cold.connections >= 1, "cold: {cold:?}");
    // AND the warm one called Route 53 on the connections the cold one left open, with the
    // credentials it got
    assert!(warm.requests >= 2, "warm: {warm:?}");
    assert_eq!(
        warm,
        ProxyCounts {
            connections: 0,
            requests: warm.requests,
            assume_role: 0,
        },
        "the warm invocation assumed a role or opened a connection"
    );
}

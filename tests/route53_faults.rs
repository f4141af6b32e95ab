//! Error paths that moto cannot produce (throttling, PriorRequestNotComplete, 5xx), with
//! the SDK's HTTP layer mocked by aws-smithy-mocks. The bodies are Route 53's own XML
//! error format, so the SDK's real parsing and our classification both run.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
use aws_sdk_route53::operation::get_change::GetChangeOutput;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use aws_sdk_route53::types::{ChangeInfo, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType};
use aws_sdk_route53::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::DateTime;
use zonehop::adapters::route53::Route53;
use zonehop::core::backoff::RetryPolicy;
use zonehop::core::change::{Action, Change};
use zonehop::core::zone::RecordSet;
use zonehop::ports::clock::SystemClock;
use zonehop::ports::hosted_zones::apply_batches;
use zonehop::ports::hosted_zones::read_zone;
use zonehop::ports::retry::{RetryStats, Retrying};
use zonehop::settings::Settings;
use zonehop::{Error, Name};

fn route53_error(status_code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>{status_code}</Code><Message>{message}</Message></Error><RequestId>7b1c2d3e-0000-4000-8000-000000000000</RequestId></ErrorResponse>"#
    )
}

fn change_info(status: ChangeStatus) -> ChangeInfo {
    ChangeInfo::builder()
        .id("/change/C0ZONEHOP")
        .status(status)
        .submitted_at(DateTime::from_secs(0))
        .build()
        .expect("change info")
}

fn accepted() -> ChangeResourceRecordSetsOutput {
    ChangeResourceRecordSetsOutput::builder()
        .change_info(change_info(ChangeStatus::Pending))
        .build()
}

fn in_sync() -> Rule {
    mock!(Client::get_change).then_output(|| {
        GetChangeOutput::builder()
            .change_info(change_info(ChangeStatus::Insync))
            .build()
    })
}

fn route53(rules: &[&Rule]) -> Route53 {
    // SDK retries off, as in production clients: our own retry loop is under test.
    Route53::new(mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        rules,
        |b| b.retry_config(RetryConfig::disabled())
    ))
}

fn fast_settings(max_attempts: u32) -> Settings {
    Settings {
        retry: RetryPolicy {
            max_attempts,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        },
        in_sync_timeout: Duration::from_secs(5),
        ..Settings::default()
    }
}

fn one_batch() -> Vec<Vec<Change>> {
    vec![vec![Change {
        action: Action::Create,
        record: RecordSet::simple(
            Name::parse("www.example.com").expect("name"),
            zonehop::core::zone::RrType::A,
            60,
            &["192.0.2.1"],
        ),
    }]]
}

async fn apply(r53: &Route53, settings: &Settings, stats: &RetryStats) -> Result<usize, Error> {
    // The retries under test are the Retrying port's, which every step wraps its ports in.
    apply_batches(
        &Retrying::new(r53, settings.retry, stats),
        &SystemClock,
        "Z1EXAMPLE",
        &Name::parse("example.com").expect("name"),
        &one_batch(),
        settings,
    )
    .await
}

#[tokio::test]
async fn throttled_change_batches_are_retried_with_backoff_until_accepted() {
    let change = mock!(Client::change_resource_record_sets)
        .sequence()
        .http_status(400, Some(route53_error("Throttling", "Rate exceeded")))
        .times(2)
        .output(accepted)
        .build();
    let sync = in_sync();
    let r53 = route53(&[&change, &sync]);
    let stats = RetryStats::default();

    let sent = apply(&r53, &fast_settings(8), &stats)
        .await
        .expect("applied");

    assert_eq!(sent, 1);
    assert_eq!(change.num_calls(), 3);
    assert_eq!(stats.retried(), 2);
}

#[tokio::test]
async fn prior_request_not_complete_is_retried_like_throttling() {
    let change = mock!(Client::change_resource_record_sets)
        .sequence()
        .http_status(
            400,
            Some(route53_error(
                "PriorRequestNotComplete",
                "The request was rejected because Route 53 was still processing a prior request.",
            )),
        )
        .output(accepted)
        .build();
    let sync = in_sync();
    let r53 = route53(&[&change, &sync]);
    let stats = RetryStats::default();

    apply(&r53, &fast_settings(8), &stats)
        .await
        .expect("applied");

    assert_eq!(change.num_calls(), 2);
    assert_eq!(stats.retried(), 1);
}

#[tokio::test]
async fn endless_throttling_ends_in_a_named_transient_error_after_the_last_attempt() {
    let change = mock!(Client::change_resource_record_sets)
        .sequence()
        .http_status(400, Some(route53_error("Throttling", "Rate exceeded")))
        .repeatedly()
        .build();
    let r53 = route53(&[&change]);

    let error = apply(&r53, &fast_settings(4), &RetryStats::default())
        .await
        .expect_err("gives up");

    assert!(
        matches!(error, Error::Throttled { attempts: 4, .. }),
        "{error:?}"
    );
    assert_eq!(error.error_type(), "Throttled");
    assert!(error.is_transient());
    assert_eq!(change.num_calls(), 4);
}

#[tokio::test]
async fn a_rejected_change_batch_is_not_retried() {
    let change = mock!(Client::change_resource_record_sets)
        .sequence()
        .http_status(400, Some(route53_error("InvalidChangeBatch", "[Tried to create resource record set [name='www.example.com.', type='A'] but it already exists]")))
        .repeatedly()
        .build();
    let r53 = route53(&[&change]);

    let error = apply(&r53, &fast_settings(8), &RetryStats::default())
        .await
        .expect_err("refused");

    assert_eq!(error.error_type(), "ChangeRejected");
    assert!(error.to_string().contains("already exists"));
    assert_eq!(change.num_calls(), 1);
}

#[tokio::test]
async fn server_errors_are_transient() {
    let change = mock!(Client::change_resource_record_sets)
        .sequence()
        .http_status(503, Some(route53_error("ServiceUnavailable", "try again")))
        .output(accepted)
        .build();
    let sync = in_sync();
    let r53 = route53(&[&change, &sync]);

    apply(&r53, &fast_settings(8), &RetryStats::default())
        .await
        .expect("applied");
    assert_eq!(change.num_calls(), 2);
}

#[tokio::test]
async fn a_throttled_listing_page_is_retried_without_restarting_the_listing() {
    let page = |name: &str, next: Option<&str>| {
        let record = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::A)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value("192.0.2.1")
                    .build()
                    .expect("rr"),
            )
            .build()
            .expect("record");
        ListResourceRecordSetsOutput::builder()
            .resource_record_sets(record)
            .is_truncated(next.is_some())
            .set_next_record_name(next.map(str::to_owned))
            .set_next_record_type(next.map(|_| RrType::A))
            .max_items(300)
            .build()
            .expect("page")
    };
    let list = mock!(Client::list_resource_record_sets)
        .sequence()
        .output(move || page("a.example.com.", Some("b.example.com.")))
        .http_status(400, Some(route53_error("Throttling", "Rate exceeded")))
        .output(move || page("b.example.com.", None))
        .build();
    let r53 = route53(&[&list]);
    let stats = RetryStats::default();

    let zone = read_zone(
        &Retrying::new(&r53, fast_settings(8).retry, &stats),
        "Z1EXAMPLE",
    )
    .await
    .expect("zone read");

    assert_eq!(zone.len(), 2);
    assert_eq!(list.num_calls(), 3);
    assert_eq!(stats.retried(), 1);
}

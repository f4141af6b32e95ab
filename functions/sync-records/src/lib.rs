//! sync-records (DESIGN step 4): make the target zone hold what the source zone holds,
//! reading the source through `source.roleArn` and writing the target through
//! `target.roleArn`, then prove it by reading the target again.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::route53::Route53;
use zonehop::core::access::Work;
use zonehop::steps::sync_records::{sync_records, SyncOutput, SyncRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<SyncOutput, zonehop::Error> {
    let request: SyncRequest = zonehop::request::parse(event.payload)?;
    request.source.access.validate("source")?;
    request.target.zone.access.validate("target")?;
    let work = Work::SyncRecords;
    let session = Session::new(work, &request.domain, &[&request.source]);
    let source = config_for(base, &request.source.access, &session).await;
    let session = Session::new(work, &request.domain, &[&request.target.zone]);
    let target = config_for(base, &request.target.zone.access, &session).await;
    let source = Route53::new(route53_client(&source));
    let target = Route53::new(route53_client(&target));
    sync_records(&source, &target, &request, settings).await
}

//! sync-records (DESIGN step 4): make the target zone hold what the source zone holds,
//! reading the source through `source.roleArn` and writing the target through
//! `target.roleArn`, then prove it by reading the target again; edits made in either zone
//! since the last pass are carried first (the baseline in `ZONEHOP_LEDGER_TABLE`).

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::dynamodb::ConfiguredLedger;
use zonehop::adapters::route53::Route53;
use zonehop::core::access::Work;
use zonehop::ports::clock::SystemClock;
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
    // The baseline of what both zones agreed on (`ZONEHOP_LEDGER_TABLE`); without a table
    // the sync carries nothing and syncs as before.
    let ledger = ConfiguredLedger::new(base, settings.ledger_table.as_deref());
    sync_records(&source, &target, &ledger, &SystemClock, &request, settings).await
}

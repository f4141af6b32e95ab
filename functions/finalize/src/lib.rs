//! finalize (DESIGN step 10): carry the last edits, restore the apex NS TTL, remove the canaries, publish the decommission checklist.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::dynamodb::ConfiguredLedger;
use zonehop::adapters::parent_zone::{lowered_parent, ConfiguredRegistrar};
use zonehop::adapters::route53::Route53;
use zonehop::core::access::Work;
use zonehop::core::request::BothZones;
use zonehop::ports::clock::SystemClock;
use zonehop::steps::finalize::{finalize, FinalizeOutput};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<FinalizeOutput, zonehop::Error> {
    let request: BothZones = zonehop::request::parse(event.payload)?;
    let zones = &request;
    zones.source.access.validate("source")?;
    zones.target.access.validate("target")?;
    let work = Work::Finalize;
    let session = Session::new(work, &zones.domain, &[&zones.source]);
    let source = config_for(base, &zones.source.access, &session).await;
    let session = Session::new(work, &zones.domain, &[&zones.target]);
    let target = config_for(base, &zones.target.access, &session).await;
    let parent = lowered_parent(base, work, zones).await?;
    let parent = parent.as_ref().and_then(ConfiguredRegistrar::parent);
    let source = Route53::new(route53_client(&source));
    let target = Route53::new(route53_client(&target));
    // The baseline of the window's carries (`ZONEHOP_LEDGER_TABLE`), for the last carry.
    let ledger = ConfiguredLedger::new(base, settings.ledger_table.as_deref());
    finalize(
        &source,
        &target,
        parent,
        (&ledger, &SystemClock),
        &request,
        settings,
    )
    .await
}

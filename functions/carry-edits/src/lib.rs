//! carry-edits (DESIGN step 8, every round of the window): copy what was written in either
//! zone since the last round to the other, keeping what both agreed on in the ledger
//! (`ZONEHOP_LEDGER_TABLE`).

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::dynamodb::DynamoLedger;
use zonehop::adapters::route53::Route53;
use zonehop::core::access::Work;
use zonehop::ports::clock::SystemClock;
use zonehop::steps::carry_edits::{carry_edits, CarryOutput, CarryRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<CarryOutput, zonehop::Error> {
    let request: CarryRequest = zonehop::request::parse(event.payload)?;
    request.source.access.validate("source")?;
    request.target.access.validate("target")?;
    let table = settings.ledger_table()?;
    let work = Work::CarryEdits;
    let session = Session::new(work, &request.domain, &[&request.source]);
    let source = config_for(base, &request.source.access, &session).await;
    let session = Session::new(work, &request.domain, &[&request.target]);
    let target = config_for(base, &request.target.access, &session).await;
    let source = Route53::new(route53_client(&source));
    let target = Route53::new(route53_client(&target));
    let ledger = DynamoLedger::new(base, table);
    carry_edits(&source, &target, &ledger, &SystemClock, &request, settings).await
}

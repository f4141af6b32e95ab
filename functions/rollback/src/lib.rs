//! rollback: after a failure past the swap, point the registration and the old zone's apex
//! NS back at the old zone's own servers.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::dynamodb::ConfiguredLedger;
use zonehop::adapters::parent_zone::ConfiguredRegistrar;
use zonehop::adapters::route53::Route53;
use zonehop::core::access::Work;
use zonehop::ports::clock::SystemClock;
use zonehop::steps::rollback::{rollback, RollbackOutput, RollbackRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<RollbackOutput, zonehop::Error> {
    let request: RollbackRequest = zonehop::request::parse(event.payload)?;
    request.source.access.validate("source")?;
    request.registrar.validate()?;
    let work = Work::Rollback;
    let session = Session::new(work, &request.domain, &[&request.source]);
    let source = config_for(base, &request.source.access, &session).await;
    let session =
        Session::for_registrar(work, &request.domain, &request.registrar, &request.source);
    let registrar = config_for(base, &request.registrar.access, &session).await;
    let source = Route53::new(route53_client(&source));
    let registrar = ConfiguredRegistrar::new(&registrar, &request.registrar);
    let ledger = ConfiguredLedger::new(base, settings.ledger_table.as_deref());
    rollback(
        &source,
        &registrar,
        registrar.parent(),
        &ledger,
        &SystemClock,
        &request,
        settings,
    )
    .await
}

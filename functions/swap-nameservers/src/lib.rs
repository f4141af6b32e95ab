//! swap-nameservers (DESIGN step 7): point the registration (Route 53 Domains) at the new
//! zone's servers, then the old zone's own apex NS too.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::dynamodb::ConfiguredLedger;
use zonehop::adapters::parent_zone::ConfiguredRegistrar;
use zonehop::adapters::route53::Route53;
use zonehop::core::access::Work;
use zonehop::ports::clock::SystemClock;
use zonehop::steps::swap_nameservers::{swap_nameservers, SwapOutput, SwapRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<SwapOutput, zonehop::Error> {
    let request: SwapRequest = zonehop::request::parse(event.payload)?;
    request.source.access.validate("source")?;
    request.target.access.validate("target")?;
    request.registrar.validate()?;
    let work = Work::SwapNameservers;
    let session = Session::new(work, &request.domain, &[&request.source]);
    let source = config_for(base, &request.source.access, &session).await;
    let session = Session::new(work, &request.domain, &[&request.target]);
    let target = config_for(base, &request.target.access, &session).await;
    let session =
        Session::for_registrar(work, &request.domain, &request.registrar, &request.source);
    let registrar = config_for(base, &request.registrar.access, &session).await;
    let source = Route53::new(route53_client(&source));
    let target = Route53::new(route53_client(&target));
    let registrar = ConfiguredRegistrar::new(&registrar, &request.registrar);
    let ledger = ConfiguredLedger::new(base, settings.ledger_table.as_deref());
    swap_nameservers(
        &source,
        &target,
        &registrar,
        &ledger,
        &SystemClock,
        &request,
        settings,
    )
    .await
}

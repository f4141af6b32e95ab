//! preflight (DESIGN step 1): check the request, both zones, DNSSEC, the records, the live
//! delegation and the registration; then write the canary that is also the domain's lock.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::dynamodb::ConfiguredLedger;
use zonehop::adapters::parent_zone::ConfiguredRegistrar;
use zonehop::adapters::route53::Route53;
use zonehop::adapters::stepfunctions::StepFunctions;
use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::access::Work;
use zonehop::ports::clock::SystemClock;
use zonehop::steps::preflight::{preflight, PreflightOutput, PreflightPorts, PreflightRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<PreflightOutput, zonehop::Error> {
    let request: PreflightRequest = zonehop::request::parse(event.payload)?;
    request.source.access.validate("source")?;
    request.target.access.validate("target")?;
    request.registrar.validate()?;
    let work = Work::Preflight;
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
    let (dns, executions) = (WireDns::default(), StepFunctions::new(base));
    let ledger = ConfiguredLedger::new(base, settings.ledger_table.as_deref());
    let ports = PreflightPorts {
        source: &source,
        target: &target,
        registrar: &registrar,
        dns: &dns,
        executions: &executions,
        ledger: &ledger,
    };
    preflight(ports, &SystemClock, &request, settings).await
}

//! verify-zones (DESIGN step 5): ask every authoritative server of both zones for every
//! RRset and compare; routing-policy records through the API. Fails with `ZonesDiffer`
//! and the list of differences, so the registration is never touched.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::route53::Route53;
use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::access::Work;
use zonehop::steps::verify_zones::{verify_zones, VerifyOutput, VerifyRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<VerifyOutput, zonehop::Error> {
    let request: VerifyRequest = zonehop::request::parse(event.payload)?;
    request.source.access.validate("source")?;
    request.target.access.validate("target")?;
    let work = Work::VerifyZones;
    let session = Session::new(work, &request.domain, &[&request.source]);
    let source = config_for(base, &request.source.access, &session).await;
    let session = Session::new(work, &request.domain, &[&request.target]);
    let target = config_for(base, &request.target.access, &session).await;
    let source = Route53::new(route53_client(&source));
    let target = Route53::new(route53_client(&target));
    verify_zones(&source, &target, &WireDns::default(), &request, settings).await
}

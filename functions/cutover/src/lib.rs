//! cutover (DESIGN step 9): apply the same record changes to BOTH zones.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::route53::Route53;
use zonehop::core::access::Work;
use zonehop::ports::clock::SystemClock;
use zonehop::steps::cutover::{cutover, CutoverOutput, CutoverRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<CutoverOutput, zonehop::Error> {
    let request: CutoverRequest = zonehop::request::parse(event.payload)?;
    let zones = &request.zones;
    zones.source.access.validate("source")?;
    zones.target.access.validate("target")?;
    let work = Work::Cutover;
    let session = Session::new(work, &zones.domain, &[&zones.source]);
    let source = config_for(base, &zones.source.access, &session).await;
    let session = Session::new(work, &zones.domain, &[&zones.target]);
    let target = config_for(base, &zones.target.access, &session).await;
    let source = Route53::new(route53_client(&source));
    let target = Route53::new(route53_client(&target));
    cutover(&source, &target, &SystemClock, &request, settings).await
}

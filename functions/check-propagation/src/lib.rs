//! check-propagation (DESIGN step 8): one round of the propagation loop. Asks the
//! parent's servers for the delegation and the probe resolvers for the canary, and says
//! whether the old side is safe to retire, when it will be, and how long to wait.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::route53::Route53;
use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::access::Work;
use zonehop::ports::clock::SystemClock;
use zonehop::steps::check_propagation::{check_propagation, PropagationOutput, PropagationRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<PropagationOutput, zonehop::Error> {
    let request: PropagationRequest = zonehop::request::parse(event.payload)?;
    request.source.access.validate("source")?;
    request.target.access.validate("target")?;
    let work = Work::CheckPropagation;
    let session = Session::new(work, &request.domain, &[&request.source]);
    let source = config_for(base, &request.source.access, &session).await;
    let session = Session::new(work, &request.domain, &[&request.target]);
    let target = config_for(base, &request.target.access, &session).await;
    let source = Route53::new(route53_client(&source));
    let target = Route53::new(route53_client(&target));
    check_propagation(
        &source,
        &target,
        &WireDns::default(),
        &SystemClock,
        &request,
        settings,
    )
    .await
}

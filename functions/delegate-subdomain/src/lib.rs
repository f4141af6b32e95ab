//! delegate-subdomain (DESIGN step 3): move a subtree that stays behind into its own zone
//! in the source account, then cut it from the parent in one atomic change.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::route53::Route53;
use zonehop::adapters::wire_dns::WireDns;
use zonehop::core::access::Work;
use zonehop::ports::clock::SystemClock;
use zonehop::steps::delegate_subdomain::{delegate_subdomain, DelegateOutput, DelegateRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<DelegateOutput, zonehop::Error> {
    let request: DelegateRequest = zonehop::request::parse(event.payload)?;
    request.source.access.validate("source")?;
    let work = Work::DelegateSubdomain;
    let session = Session::new(work, &request.domain, &[]);
    let source = config_for(base, &request.source.access, &session).await;
    let r53 = Route53::new(route53_client(&source));
    delegate_subdomain(&r53, &WireDns::default(), &SystemClock, &request, settings).await
}

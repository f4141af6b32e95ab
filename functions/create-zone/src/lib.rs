//! create-zone (DESIGN step 2): create the target hosted zone idempotently, or adopt the
//! one the request names, acting in the target account through `target.roleArn`.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::adapters::accounts::{config_for, route53_client, Session};
use zonehop::adapters::route53::Route53;
use zonehop::core::access::Work;
use zonehop::steps::create_zone::{create_zone, CreateZoneOutput, CreateZoneRequest};
use zonehop::Settings;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    settings: &Settings,
    event: LambdaEvent<zonehop::request::Event>,
) -> Result<CreateZoneOutput, zonehop::Error> {
    let request: CreateZoneRequest = zonehop::request::parse(event.payload)?;
    // Checked before the role is assumed: a bad request fails without any call.
    zonehop::core::request::parse_domain(&request.domain)?;
    request.target.zone.access.validate("target")?;
    let work = Work::CreateZone;
    let session = Session::new(work, &request.domain, &[]);
    let config = config_for(base, &request.target.zone.access, &session).await;
    let r53 = Route53::new(route53_client(&config));
    create_zone(&r53, &request, settings).await
}

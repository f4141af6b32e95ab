//! create-zone (DESIGN step 2): create the target hosted zone idempotently, or adopt the
//! one the request names, acting in the target account through `target.roleArn`.

use aws_config::SdkConfig;
use lambda_runtime::LambdaEvent;
use zonehop::accounts::{config_for, route53_client};
use zonehop::create_zone::{create_zone, CreateZoneOutput, CreateZoneRequest};
use zonehop::retry::RetryPolicy;
use zonehop::route53::Route53;

/// Translates the event into one library call.
pub async fn handler(
    base: &SdkConfig,
    retry: &RetryPolicy,
    event: LambdaEvent<CreateZoneRequest>,
) -> Result<CreateZoneOutput, zonehop::Error> {
    let request = event.payload;
    // Checked before the role is assumed: a bad request fails without any call.
    zonehop::request::parse_domain(&request.domain)?;
    request.target.zone.access.validate("target")?;
    let config = config_for(base, &request.target.zone.access, "zonehop-create-zone").await;
    let r53 = Route53::new(route53_client(&config));
    create_zone(&r53, &request, retry).await
}

//! Reference binary: what a function does at init when it does nothing special. It loads
//! aws-config with its defaults and builds three SDK clients (Route 53, Route 53 Domains,
//! DynamoDB), then serves lambda_runtime with a handler that lists hosted zones.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let route53 = aws_sdk_route53::Client::new(&config);
    let domains = aws_sdk_route53domains::Client::new(&config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let (route53, _domains, _dynamodb) = (&route53, &domains, &dynamodb);
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async move {
        let zones = route53.list_hosted_zones().send().await?;
        Ok::<Value, Error>(json!({ "zones": zones.hosted_zones().len() }))
    }))
    .await
}

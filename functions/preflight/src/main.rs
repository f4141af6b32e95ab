//! The preflight Lambda: wiring only; the handler is in lib.rs.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    zonehop::runtime::init_logging();
    let base = zonehop::accounts::base_config().await;
    let settings = zonehop::preflight::PreflightSettings {
        retry: zonehop::runtime::retry_policy_from_env(),
        resolver: zonehop::runtime::resolver_from_env(),
        ..Default::default()
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        preflight::handler(&base, &settings, event)
    }))
    .await
}

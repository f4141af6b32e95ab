//! The carry-edits Lambda: wiring only; the handler is in lib.rs.

// The layout of the handler's future (step, retrying port, SDK call) is deeper than rustc's
// default query depth of 128 allows when clippy checks it.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    zonehop::runtime::init_logging();
    let base = zonehop::adapters::accounts::base_config().await;
    let settings = zonehop::Settings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        carry_edits::handler(&base, &settings, event)
    }))
    .await
}

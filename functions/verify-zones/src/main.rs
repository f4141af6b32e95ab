//! The verify-zones Lambda: wiring only; the handler is in lib.rs.

// The layout of the handler's future (step, retrying port, SDK call) is deeper than rustc's
// default query depth of 128 allows when clippy checks it.
#![recursion_limit = "256"]

use lambda_runtime::LambdaEvent;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    zonehop::runtime::init_logging();
    let base = zonehop::adapters::accounts::base_config().await;
    let settings = zonehop::Settings::from_env();
    // Every log line in the step's span (step, execution, domain): zonehop::runtime::serve.
    zonehop::runtime::serve(
        "verify-zones",
        |event: LambdaEvent<zonehop::request::Event>| {
            verify_zones::handler(&base, &settings, event)
        },
    )
    .await
}

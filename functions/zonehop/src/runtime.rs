//! What every Lambda's `main` shares besides [`crate::Settings`]: logging.

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`), no ANSI.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests) is harmless.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .try_init();
}

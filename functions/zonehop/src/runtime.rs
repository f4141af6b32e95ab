//! What every Lambda's `main` shares: logging, and settings from the environment.

use std::time::Duration;

use crate::retry::RetryPolicy;
use crate::sync::SyncSettings;

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

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The retry policy, from `ZONEHOP_RETRY_MAX_ATTEMPTS`, `ZONEHOP_RETRY_BASE_MS` and
/// `ZONEHOP_RETRY_CAP_MS` where set.
pub fn retry_policy_from_env() -> RetryPolicy {
    let default = RetryPolicy::default();
    RetryPolicy {
        max_attempts: env_u64("ZONEHOP_RETRY_MAX_ATTEMPTS")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(default.max_attempts),
        base: env_u64("ZONEHOP_RETRY_BASE_MS").map_or(default.base, Duration::from_millis),
        cap: env_u64("ZONEHOP_RETRY_CAP_MS").map_or(default.cap, Duration::from_millis),
    }
}

/// Sync settings, with `ZONEHOP_INSYNC_TIMEOUT_SECONDS` where set.
pub fn sync_settings_from_env() -> SyncSettings {
    let default = SyncSettings::default();
    SyncSettings {
        retry: retry_policy_from_env(),
        in_sync_timeout: env_u64("ZONEHOP_INSYNC_TIMEOUT_SECONDS")
            .map_or(default.in_sync_timeout, Duration::from_secs),
        ..default
    }
}

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

/// The resolver from `ZONEHOP_RESOLVER` (`192.0.2.53` or `192.0.2.53:53`), when set.
pub fn resolver_from_env() -> Option<std::net::SocketAddr> {
    std::env::var("ZONEHOP_RESOLVER")
        .ok()
        .and_then(|text| crate::verify::parse_resolver(&text).ok())
}

/// Verification settings: `ZONEHOP_RESOLVER`, `ZONEHOP_DNS_PORT` (authoritative servers'
/// port, 53), `ZONEHOP_VERIFY_CONCURRENCY` (queries in flight, 256),
/// `ZONEHOP_VERIFY_SETTLE_SECONDS` (how long a difference must persist, 10).
pub fn verify_settings_from_env() -> crate::verify::VerifySettings {
    let default = crate::verify::VerifySettings::default();
    crate::verify::VerifySettings {
        retry: retry_policy_from_env(),
        resolver: resolver_from_env(),
        port: env_u64("ZONEHOP_DNS_PORT")
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(default.port),
        concurrency: env_u64("ZONEHOP_VERIFY_CONCURRENCY")
            .and_then(|c| usize::try_from(c).ok())
            .unwrap_or(default.concurrency),
        settle: env_u64("ZONEHOP_VERIFY_SETTLE_SECONDS")
            .map(std::time::Duration::from_secs)
            .unwrap_or(default.settle),
    }
}

/// Sub-delegation settings: the sync settings, `ZONEHOP_RESOLVER`, `ZONEHOP_DNS_PORT`.
pub fn delegate_settings_from_env() -> crate::delegate::DelegateSettings {
    let default = crate::delegate::DelegateSettings::default();
    crate::delegate::DelegateSettings {
        sync: sync_settings_from_env(),
        resolver: resolver_from_env(),
        port: env_u64("ZONEHOP_DNS_PORT")
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(default.port),
        ..default
    }
}

/// Propagation settings: `ZONEHOP_RESOLVER`, `ZONEHOP_DNS_PORT`.
pub fn propagation_settings_from_env() -> crate::check_propagation::PropagationSettings {
    let default = crate::check_propagation::PropagationSettings::default();
    crate::check_propagation::PropagationSettings {
        retry: retry_policy_from_env(),
        resolver: resolver_from_env(),
        port: env_u64("ZONEHOP_DNS_PORT")
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(default.port),
        metric_namespace: std::env::var("ZONEHOP_METRIC_NAMESPACE")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or(default.metric_namespace),
    }
}

//! One place for every setting a function reads from its configuration (not from the
//! request): every `main.rs` calls [`Settings::from_env`], so that each setting means the
//! same in every function that reads it.

use std::net::SocketAddr;
use std::time::Duration;

use zonehop_core::backoff::RetryPolicy;
use zonehop_core::batch::BatchLimits;

use crate::ports::dns::lookup::parse_resolver;

/// The configuration of a function.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How each call is retried (`ZONEHOP_RETRY_MAX_ATTEMPTS`, `ZONEHOP_RETRY_BASE_MS`,
    /// `ZONEHOP_RETRY_CAP_MS`).
    pub retry: RetryPolicy,
    /// Route 53's change-batch limits.
    pub limits: BatchLimits,
    /// How long a change may stay PENDING (`ZONEHOP_INSYNC_TIMEOUT_SECONDS`, 600).
    pub in_sync_timeout: Duration,
    /// How long a registrar operation may take before the function hands back a retryable
    /// `RegistrarOperationPending`: the state machine retries, the operation goes on.
    pub operation_timeout: Duration,
    /// The resolver that finds name servers' addresses and parents (`ZONEHOP_RESOLVER`,
    /// `192.0.2.53` or `192.0.2.53:53`), when the request names none.
    pub resolver: Option<SocketAddr>,
    /// The port authoritative servers listen on (`ZONEHOP_DNS_PORT`, 53).
    pub dns_port: u16,
    /// verify-zones' queries in flight (`ZONEHOP_VERIFY_CONCURRENCY`, 256).
    pub verify_concurrency: usize,
    /// How long a difference over DNS must persist to be reported
    /// (`ZONEHOP_VERIFY_SETTLE_SECONDS`, 10).
    pub verify_settle: Duration,
    /// How long a new child zone's servers may take to answer at all after INSYNC.
    pub serving_timeout: Duration,
    /// The CloudWatch namespace of check-propagation's metrics (`ZONEHOP_METRIC_NAMESPACE`).
    pub metric_namespace: String,
    /// The Route 53 quota of records per hosted zone in the target account
    /// (`ZONEHOP_MAX_RECORDS_PER_ZONE`, 10,000): preflight refuses a larger zone.
    pub max_records_per_zone: usize,
    /// The ledger's DynamoDB table (`ZONEHOP_LEDGER_TABLE`): the lock, the window's
    /// baseline. Unset: preflight's lock is the canary alone, and carry-edits refuses.
    pub ledger_table: Option<String>,
    /// The share of each account's Route 53 request rate carry-edits may spend reading the
    /// zones (`ZONEHOP_CARRY_BUDGET_SHARE`, 0.1): a round closer to the last one than the
    /// zones' size allows reads nothing.
    pub carry_budget_share: f64,
    /// How long a silent probe resolver keeps counting (with 10 silent rounds) before it is
    /// left out (`ZONEHOP_SILENT_RESOLVER_SECONDS`, 3,600).
    pub silent_resolver_seconds: i64,
    /// How long after the first round of the window the parent may still name the old
    /// servers before the migration rolls back (`ZONEHOP_PARENT_SWITCH_DEADLINE_SECONDS`,
    /// 259,200: 72 hours).
    pub parent_switch_deadline: i64,
    /// At most this many Route 53 requests a second per account from one invocation
    /// (`ZONEHOP_ROUTE53_CALLS_PER_SECOND`; unset or 0: unpaced). A migration runs one step
    /// at a time, so a fleet of C migrations at once sends at most C times this to each
    /// account: the fleet's concurrency and this pace together keep the account under
    /// Route 53's rate (README, "A fleet of domains").
    pub route53_calls_per_second: Option<f64>,
    /// verify-zones and check-propagation ask the zones' servers on their IPv6 addresses too,
    /// those this host has a route to (`ZONEHOP_DNS_IPV6`, on; `0`, `off` or `false`: IPv4
    /// only).
    pub dns_ipv6: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry: RetryPolicy::default(),
            limits: BatchLimits::ROUTE53,
            in_sync_timeout: Duration::from_secs(600),
            operation_timeout: Duration::from_secs(600),
            resolver: None,
            dns_port: 53,
            verify_concurrency: 256,
            verify_settle: Duration::from_secs(10),
            serving_timeout: Duration::from_secs(120),
            metric_namespace: "zonehop".to_owned(),
            max_records_per_zone: 10_000,
            ledger_table: None,
            carry_budget_share: 0.1,
            silent_resolver_seconds: zonehop_core::propagation::SILENT_SECONDS_BOUND,
            parent_switch_deadline: 72 * 3600,
            route53_calls_per_second: None,
            dns_ipv6: true,
        }
    }
}

impl Settings {
    /// The settings from the process environment.
    pub fn from_env() -> Settings {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from any source of variables (a map in tests); unset or unparsable
    /// values keep their default.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Settings {
        let number = |name: &str| var(name).and_then(|v| v.trim().parse::<u64>().ok());
        let d = Settings::default();
        Settings {
            retry: RetryPolicy {
                max_attempts: number("ZONEHOP_RETRY_MAX_ATTEMPTS")
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(d.retry.max_attempts),
                base: number("ZONEHOP_RETRY_BASE_MS").map_or(d.retry.base, Duration::from_millis),
                cap: number("ZONEHOP_RETRY_CAP_MS").map_or(d.retry.cap, Duration::from_millis),
            },
            limits: d.limits,
            in_sync_timeout: number("ZONEHOP_INSYNC_TIMEOUT_SECONDS")
                .map_or(d.in_sync_timeout, Duration::from_secs),
            operation_timeout: d.operation_timeout,
            resolver: var("ZONEHOP_RESOLVER").and_then(|text| parse_resolver(&text).ok()),
            dns_port: number("ZONEHOP_DNS_PORT")
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(d.dns_port),
            verify_concurrency: number("ZONEHOP_VERIFY_CONCURRENCY")
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(d.verify_concurrency),
            verify_settle: number("ZONEHOP_VERIFY_SETTLE_SECONDS")
                .map_or(d.verify_settle, Duration::from_secs),
            serving_timeout: d.serving_timeout,
            metric_namespace: var("ZONEHOP_METRIC_NAMESPACE")
                .filter(|n| !n.is_empty())
                .unwrap_or(d.metric_namespace),
            max_records_per_zone: number("ZONEHOP_MAX_RECORDS_PER_ZONE")
                .and_then(|c| usize::try_from(c).ok())
                .unwrap_or(d.max_records_per_zone),
            ledger_table: var("ZONEHOP_LEDGER_TABLE").filter(|t| !t.is_empty()),
            carry_budget_share: var("ZONEHOP_CARRY_BUDGET_SHARE")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| *s > 0.0 && *s <= 1.0)
                .unwrap_or(d.carry_budget_share),
            silent_resolver_seconds: number("ZONEHOP_SILENT_RESOLVER_SECONDS")
                .and_then(|s| i64::try_from(s).ok())
                .unwrap_or(d.silent_resolver_seconds),
            parent_switch_deadline: number("ZONEHOP_PARENT_SWITCH_DEADLINE_SECONDS")
                .and_then(|s| i64::try_from(s).ok())
                .filter(|s| *s > 0)
                .unwrap_or(d.parent_switch_deadline),
            route53_calls_per_second: var("ZONEHOP_ROUTE53_CALLS_PER_SECOND")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|r| r.is_finite() && *r > 0.0),
            dns_ipv6: var("ZONEHOP_DNS_IPV6").map_or(d.dns_ipv6, |v| {
                !matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "0" | "off" | "false"
                )
            }),
        }
    }

    /// The ledger's table, or a named error for a deployment that set none.
    pub fn ledger_table(&self) -> Result<&str, crate::Error> {
        self.ledger_table.as_deref().ok_or_else(|| {
            crate::Error::NotConfigured(
                "ZONEHOP_LEDGER_TABLE (the ledger's DynamoDB table) is not set".into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_read_and_bad_values_keep_the_default() {
        let vars = [
            ("ZONEHOP_RETRY_MAX_ATTEMPTS", "3"),
            ("ZONEHOP_INSYNC_TIMEOUT_SECONDS", "30"),
            ("ZONEHOP_RESOLVER", "127.0.0.53"),
            ("ZONEHOP_DNS_PORT", "5353"),
            ("ZONEHOP_VERIFY_CONCURRENCY", "not-a-number"),
            ("ZONEHOP_METRIC_NAMESPACE", "zh"),
        ];
        let settings = Settings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        });
        assert_eq!(settings.retry.max_attempts, 3);
        assert_eq!(settings.in_sync_timeout, Duration::from_secs(30));
        assert_eq!(
            settings.resolver,
            Some(SocketAddr::from(([127, 0, 0, 53], 53)))
        );
        assert_eq!(settings.dns_port, 5353);
        assert_eq!(settings.verify_concurrency, 256);
        assert_eq!(settings.metric_namespace, "zh");
        assert!(settings.dns_ipv6, "IPv6 by default");
        let off = Settings::from_lookup(|name| (name == "ZONEHOP_DNS_IPV6").then(|| "off".into()));
        assert!(!off.dns_ipv6);
    }

    #[test]
    fn the_route53_pace_is_a_positive_rate_or_none() {
        let pace = |value: &str| {
            Settings::from_lookup(|name| {
                (name == "ZONEHOP_ROUTE53_CALLS_PER_SECOND").then(|| value.to_owned())
            })
            .route53_calls_per_second
        };
        assert_eq!(pace("2"), Some(2.0));
        assert_eq!(pace("0.5"), Some(0.5));
        assert_eq!(pace("0"), None);
        assert_eq!(pace("-1"), None);
        assert_eq!(pace("fast"), None);
        assert_eq!(pace("inf"), None);
        assert_eq!(Settings::default().route53_calls_per_second, None);
    }
}

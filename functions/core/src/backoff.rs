//! Capped exponential backoff with full jitter: how long to wait before each retry.
//!
//! Route 53 answers `Throttling` past 10 requests/s per account and
//! `PriorRequestNotComplete` while a previous change to the zone is still processing. Both
//! pass if the caller waits; "full jitter" (a uniform wait between zero and the capped
//! exponential) keeps many workers from retrying in lockstep. The waiting itself is the
//! ports' business (`zonehop::ports::retry`).

use std::time::Duration;

use rand::Rng;

/// How often and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// The wait before the first retry (before jitter).
    pub base: Duration,
    /// No wait is longer than this.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// Eight attempts over at most about a minute: long enough to ride out a burst of
    /// throttling or a slow prior change, short enough for a Lambda's timeout.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The longest wait before retry number `retry` (1-based): `base * 2^(retry-1)`, capped.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A wait drawn uniformly from zero to the ceiling ("full jitter").
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(1), Duration::from_millis(250));
        assert_eq!(policy.ceiling(2), Duration::from_millis(500));
        assert_eq!(policy.ceiling(4), Duration::from_secs(2));
        assert_eq!(policy.ceiling(30), Duration::from_secs(20));
        for retry in 1..10 {
            assert!(policy.delay(retry) <= policy.ceiling(retry));
        }
    }
}

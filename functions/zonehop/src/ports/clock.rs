//! The clock, as a port: steps that decide by time (check-propagation's rounds, the
//! registrar's and INSYNC polls) take it as an input, so that a 72-hour window can be played
//! in milliseconds in a unit test.

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What time it is, how long a wait has lasted, and the waiting itself.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch, now.
    fn now_epoch(&self) -> i64;

    /// Time since an origin of the clock's choosing, never going back: what a poll measures
    /// its deadline by (the epoch can step when the host's clock is set).
    fn monotonic(&self) -> Duration;

    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The system clock; it waits on tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_epoch(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn monotonic(&self) -> Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_system_clock_waits_on_tokios_timer() {
        // GIVEN tokio's timer, paused (it jumps to the next timer when every task waits)
        let started = tokio::time::Instant::now();
        // WHEN the system clock is asked to wait an hour
        SystemClock.sleep(Duration::from_secs(3_600)).await;
        // THEN the wait was a tokio sleep: the timer shows the hour gone by
        assert_eq!(started.elapsed(), Duration::from_secs(3_600));
    }

    #[test]
    fn the_system_clocks_monotonic_time_never_goes_back() {
        let first = SystemClock.monotonic();
        let second = SystemClock.monotonic();
        assert!(second >= first);
    }
}

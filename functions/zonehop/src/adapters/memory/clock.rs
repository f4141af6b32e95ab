//! A clock a test sets and advances, and on which a wait takes no time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::lock;
use crate::ports::clock::Clock;

/// Time as the test says, to the millisecond: [`Clock::sleep`] moves it on at once by the
/// duration asked for and records the wait, so a poll's whole schedule runs without sleeping.
#[derive(Debug, Default)]
pub struct ManualClock {
    /// Milliseconds since the epoch.
    now_ms: AtomicI64,
    sleeps: Mutex<Vec<Duration>>,
}

impl ManualClock {
    /// A clock showing `epoch` seconds.
    pub fn at(epoch: i64) -> ManualClock {
        ManualClock {
            now_ms: AtomicI64::new(epoch.saturating_mul(1_000)),
            sleeps: Mutex::default(),
        }
    }

    pub fn set(&self, epoch: i64) {
        self.now_ms
            .store(epoch.saturating_mul(1_000), Ordering::SeqCst);
    }

    /// Moves the clock on by `seconds` (back, when negative); returns the new time.
    pub fn advance(&self, seconds: i64) -> i64 {
        let step = seconds.saturating_mul(1_000);
        (self.now_ms.fetch_add(step, Ordering::SeqCst) + step).div_euclid(1_000)
    }

    /// Every wait asked of the clock, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        lock(&self.sleeps).clone()
    }
}

impl Clock for ManualClock {
    fn now_epoch(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst).div_euclid(1_000)
    }

    /// The time shown, as a duration since the epoch (a test that sets the clock back sets
    /// this back too).
    fn monotonic(&self) -> Duration {
        let ms = self.now_ms.load(Ordering::SeqCst);
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    async fn sleep(&self, duration: Duration) {
        let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
        lock(&self.sleeps).push(duration);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_shows_what_the_test_set_and_advanced() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.now_epoch(), 1_000);
        assert_eq!(clock.advance(90), 1_090);
        clock.set(5);
        assert_eq!(clock.now_epoch(), 5);
    }

    #[tokio::test]
    async fn a_sleep_moves_the_clock_on_at_once_to_the_millisecond_and_is_recorded() {
        // GIVEN a clock at 1 000 s
        let clock = ManualClock::at(1_000);
        let real = std::time::Instant::now();
        // WHEN two waits of 500 ms and an hour are asked of it
        clock.sleep(Duration::from_millis(500)).await;
        assert_eq!(
            clock.now_epoch(),
            1_000,
            "half a second: still second 1 000"
        );
        clock.sleep(Duration::from_secs(3_600)).await;
        // THEN it shows 3 600.5 s later, recorded both, and no real time went by
        assert_eq!(clock.monotonic(), Duration::from_millis(4_600_500));
        assert_eq!(clock.now_epoch(), 4_600);
        assert_eq!(
            clock.sleeps(),
            [Duration::from_millis(500), Duration::from_secs(3_600)]
        );
        assert!(real.elapsed() < Duration::from_secs(1));
    }
}

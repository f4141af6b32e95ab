//! A clock a test sets and advances.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::ports::clock::Clock;

/// Seconds since the epoch, as the test says.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock showing `epoch` seconds.
    pub fn at(epoch: i64) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(epoch),
        }
    }

    pub fn set(&self, epoch: i64) {
        self.now.store(epoch, Ordering::SeqCst);
    }

    /// Moves the clock on by `seconds` (back, when negative); returns the new time.
    pub fn advance(&self, seconds: i64) -> i64 {
        self.now.fetch_add(seconds, Ordering::SeqCst) + seconds
    }
}

impl Clock for ManualClock {
    fn now_epoch(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
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
}

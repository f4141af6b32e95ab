//! The clock, as a port: steps that decide by time (check-propagation's rounds, the
//! registrar's and INSYNC polls) take it as an input, so that a 72-hour window can be played
//! in milliseconds in a unit test.

/// Seconds since the Unix epoch, now.
pub trait Clock: Send + Sync {
    fn now_epoch(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_epoch(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

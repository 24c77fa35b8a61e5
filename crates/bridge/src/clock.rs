//! The clock: the one place the bridge reads the wall clock and waits for a time, so that
//! time-of-day rules (IBKR's daily reset window) are tested with an injected clock and no
//! real waiting.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use jiff::Timestamp;

/// A future that waits.
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Reads the time and waits for it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;

    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> Wait<'_>;

    /// Waits until `at` (at once if it has passed).
    fn sleep_until(&self, at: Timestamp) -> Wait<'_> {
        let ms = at.as_millisecond() - self.now().as_millisecond();
        self.sleep(Duration::from_millis(ms.max(0).unsigned_abs()))
    }
}

/// The system clock and tokio's timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep(&self, duration: Duration) -> Wait<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

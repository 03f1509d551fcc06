//! The real world's clock and randomness for the engine's `Clock` and `Rng` seams: the
//! engine has no I/O, so the worker and gateway hand it these.

use asl::interpret::{Clock, SplitMix64};
use futures::future::BoxFuture;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time; sleeps on tokio's timer.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A SplitMix64 seeded from the system clock and the process id: unpredictable enough for
/// task tokens and jitter, which need uniqueness rather than secrecy.
pub fn system_rng() -> SplitMix64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    SplitMix64::new(nanos ^ (u64::from(std::process::id()) << 32))
}

//! The real world's clock and randomness for the engine's `Clock` and `Rng` seams: the
//! engine has no I/O, so the worker and gateway hand it these.

use asl::interpret::{Clock, Rng};
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

/// Randomness for jitter, `States.UUID`, `$uuid()` and `$random()`: rand's thread-local
/// generator (ChaCha12 seeded from the operating system and reseeded as it goes), so no
/// output can be predicted from the clock or from earlier outputs. Task tokens come from
/// `task_token::TaskTokenKeys`, not from here.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRng;

impl Rng for SystemRng {
    fn next_u64(&self) -> u64 {
        rand::random()
    }
}

/// The engine's randomness in a real run.
pub fn system_rng() -> SystemRng {
    SystemRng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_generators_do_not_repeat_each_other() {
        // A clock-seeded generator made twice in one instant repeats its sequence.
        let (a, b) = (system_rng(), system_rng());
        let first: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let second: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_ne!(first, second);
    }
}

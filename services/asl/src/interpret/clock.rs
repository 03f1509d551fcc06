//! Time and randomness as the engine sees them: the `Clock` and `Rng` traits, and a
//! `VirtualClock` whose `block_on` jumps time forward whenever every future is waiting on a
//! sleep — so waits, retries and timeouts cost no real time and tests never sleep.

use futures::future::BoxFuture;
use futures::task::ArcWake;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The engine's only source of time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// A future that completes after `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The engine's source of randomness (jitter, `States.UUID`, JSONata's `$random()` and
/// `$uuid()`); task tokens come from `TaskTokens`.
pub trait Rng: Send + Sync {
    /// 64 random bits.
    fn next_u64(&self) -> u64;
}

/// SplitMix64: a small, fast, seedable generator. Deterministic for a seed, which is what
/// tests want; the runtime hands the engine an OS-seeded generator instead.
#[derive(Debug)]
pub struct SplitMix64 {
    state: AtomicU64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 {
            state: AtomicU64::new(seed),
        }
    }
}

impl Rng for SplitMix64 {
    fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A clock whose time only moves when `block_on` finds every future waiting on it.
#[derive(Clone, Debug)]
pub struct VirtualClock {
    inner: Arc<Mutex<Timeline>>,
}

#[derive(Debug)]
struct Timeline {
    now_ms: i64,
    /// Sleepers by (deadline, sequence number), so equal deadlines wake in order.
    sleepers: BTreeMap<(i64, u64), Waker>,
    next_sequence: u64,
}

impl VirtualClock {
    /// A clock standing at `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        VirtualClock {
            inner: Arc::new(Mutex::new(Timeline {
                now_ms: start_ms,
                sleepers: BTreeMap::new(),
                next_sequence: 0,
            })),
        }
    }

    fn timeline(&self) -> std::sync::MutexGuard<'_, Timeline> {
        self.inner
            .lock()
            .expect("virtual clock lock is never poisoned")
    }

    /// Runs `future` to completion on this thread, advancing time to the next deadline
    /// whenever nothing else can make progress. `None` if the future waits on something
    /// that is not this clock (nothing could ever wake it).
    /// Inlined so the caller builds the future in place: moving an execution's future in
    /// was a copy of it per call.
    #[inline]
    pub fn block_on<F: Future>(&self, future: F) -> Option<F::Output> {
        let mut future = std::pin::pin!(future);
        let flag = Arc::new(WakeFlag(AtomicBool::new(true)));
        let waker = futures::task::waker(flag.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            flag.0.store(false, Ordering::SeqCst);
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return Some(output);
            }
            if flag.0.load(Ordering::SeqCst) {
                continue;
            }
            // Everything is waiting: jump to the earliest deadline and wake its sleepers.
            let woken: Vec<Waker> = {
                let mut timeline = self.timeline();
                let (&(deadline, _), _) = timeline.sleepers.iter().next()?;
                timeline.now_ms = timeline.now_ms.max(deadline);
                let later = timeline.sleepers.split_off(&(deadline, u64::MAX));
                std::mem::replace(&mut timeline.sleepers, later)
                    .into_values()
                    .collect()
            };
            woken.into_iter().for_each(Waker::wake);
        }
    }
}

struct WakeFlag(AtomicBool);

impl ArcWake for WakeFlag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> i64 {
        self.timeline().now_ms
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(Sleep {
            clock: self.clone(),
            duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
            key: None,
        })
    }
}

struct Sleep {
    clock: VirtualClock,
    duration_ms: i64,
    key: Option<(i64, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let clock = self.clock.clone();
        let mut timeline = clock.timeline();
        let key = match self.key {
            Some(key) => key,
            None => {
                let key = (
                    timeline.now_ms.saturating_add(self.duration_ms),
                    timeline.next_sequence,
                );
                timeline.next_sequence += 1;
                self.key = Some(key);
                key
            }
        };
        if timeline.now_ms >= key.0 {
            timeline.sleepers.remove(&key);
            return Poll::Ready(());
        }
        timeline.sleepers.insert(key, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.clock.timeline().sleepers.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::{select, Either};

    #[test]
    fn sleeps_take_no_real_time_and_advance_the_clock() {
        let clock = VirtualClock::new(1_000);
        let started = std::time::Instant::now();
        let now = clock.block_on(async {
            clock.sleep(Duration::from_secs(3600)).await;
            clock.now_ms()
        });
        assert_eq!(now, Some(1_000 + 3_600_000));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn the_earlier_deadline_wins_a_race() {
        let clock = VirtualClock::new(0);
        let winner = clock.block_on(async {
            let slow = clock.sleep(Duration::from_secs(10));
            let fast = clock.sleep(Duration::from_secs(5));
            match select(slow, fast).await {
                Either::Left(_) => "slow",
                Either::Right(_) => "fast",
            }
        });
        assert_eq!(winner, Some("fast"));
        assert_eq!(clock.now_ms(), 5_000);
    }

    #[test]
    fn a_future_nothing_can_wake_is_reported() {
        let clock = VirtualClock::new(0);
        assert_eq!(clock.block_on(futures::future::pending::<()>()), None);
    }

    #[test]
    fn splitmix_is_deterministic_per_seed() {
        let (a, b) = (SplitMix64::new(7), SplitMix64::new(7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(a.next_u64(), SplitMix64::new(8).next_u64());
    }
}

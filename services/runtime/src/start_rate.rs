//! Start rate limits: a governor token bucket per state machine (burst = the rate per
//! second), configured by a default and per-machine rates. The gateway refuses a start over
//! the rate at once (`check`), as AWS refuses it, and the caller retries with backoff; a
//! worker waits instead (`wait`: it cannot refuse a record, and while it waits it reads no
//! further). Knows nothing of HTTP or Kafka.

use futures::future::BoxFuture;
use governor::clock::{Clock, FakeRelativeClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{NotUntil, Quota, RateLimiter};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

type Direct = RateLimiter<NotKeyed, InMemoryState, BucketClock, NoOpMiddleware<Nanos>>;
type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, BucketClock, NoOpMiddleware<Nanos>>;

/// The buckets' clock: monotonic time and tokio's timer, or — in tests — a fake clock that
/// a wait advances at once, so a test of waiting takes no real time and asserts exactly how
/// long was waited.
#[derive(Debug, Clone)]
pub enum BucketClock {
    /// Time since this instant; waits sleep on tokio's timer.
    Real(Instant),
    /// A fake clock: a wait advances it by the wait.
    Fake(FakeRelativeClock),
}

impl Clock for BucketClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        match self {
            BucketClock::Real(start) => Nanos::from(start.elapsed()),
            BucketClock::Fake(clock) => clock.now(),
        }
    }
}

impl BucketClock {
    /// Real time.
    pub fn real() -> BucketClock {
        BucketClock::Real(Instant::now())
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        match self {
            BucketClock::Real(_) => Box::pin(tokio::time::sleep(duration)),
            BucketClock::Fake(clock) => {
                clock.advance(duration);
                Box::pin(std::future::ready(()))
            }
        }
    }
}

/// Parses `NAME:RATE` (starts per second), as flags and list variables write a rate.
pub fn parse(text: &str) -> Result<(String, u32), String> {
    let invalid = || format!("a start rate is NAME:RATE (per second), not '{text}'");
    let (name, rate) = text.trim().split_once(':').ok_or_else(invalid)?;
    let rate = rate.trim().parse().map_err(|_| invalid())?;
    if name.is_empty() {
        return Err(invalid());
    }
    Ok((name.to_owned(), rate))
}

/// Refuses a zero rate, naming the setting: absent means no limit, zero would mean none ever.
pub fn check(default: Option<u32>, machines: &BTreeMap<String, u32>) -> Result<(), String> {
    if default == Some(0) {
        return Err("start_rate_per_second must be at least 1 (leave it out for no limit)".into());
    }
    match machines.iter().find(|(_, rate)| **rate == 0) {
        Some((name, _)) => Err(format!("start_rates_per_second.{name} must be at least 1")),
        None => Ok(()),
    }
}

/// A start refused by its state machine's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverRate {
    /// The machine's configured starts per second.
    pub per_second: u32,
    /// How long until the bucket has a token again.
    pub retry_after: Duration,
}

/// The buckets: one per configured machine, and one per other machine when there is a
/// default rate. Keys are the names of registered machines only (the caller checks the
/// registry first), so the keyed store stays as small as the registry.
pub struct StartLimits {
    clock: BucketClock,
    default: Option<(u32, Keyed)>,
    machines: HashMap<String, (u32, Direct)>,
}

impl StartLimits {
    /// Buckets on the real clock. Zero rates (which `GatewayConfig::validate` refuses) mean
    /// no limit.
    pub fn new(default: Option<u32>, machines: &BTreeMap<String, u32>) -> StartLimits {
        StartLimits::with_clock(default, machines, BucketClock::real())
    }

    /// Buckets on `clock` (a fake one in tests).
    pub fn with_clock(
        default: Option<u32>,
        machines: &BTreeMap<String, u32>,
        clock: BucketClock,
    ) -> StartLimits {
        let quota = |rate: u32| NonZeroU32::new(rate).map(Quota::per_second);
        StartLimits {
            default: default.and_then(|rate| {
                quota(rate).map(|q| (rate, RateLimiter::dashmap_with_clock(q, clock.clone())))
            }),
            machines: machines
                .iter()
                .filter_map(|(name, rate)| {
                    let limiter = RateLimiter::direct_with_clock(quota(*rate)?, clock.clone());
                    Some((name.clone(), (*rate, limiter)))
                })
                .collect(),
            clock,
        }
    }

    /// Waits for a token from `machine`'s bucket; says whether it had to wait.
    pub async fn wait(&self, machine: &str) -> bool {
        let mut waited = false;
        while let Err(over) = self.check(machine) {
            waited = true;
            self.clock.sleep(over.retry_after).await;
        }
        waited
    }

    /// Takes a token from `machine`'s bucket, or says it is empty and for how long. A machine
    /// with neither an own rate nor a default is never limited.
    pub fn check(&self, machine: &str) -> Result<(), OverRate> {
        let (per_second, answer) = match (self.machines.get(machine), &self.default) {
            (Some((rate, limiter)), _) => (*rate, limiter.check()),
            (None, Some((rate, limiter))) => {
                // The keyed store wants an owned key; one small string per start.
                (*rate, limiter.check_key(&machine.to_owned()))
            }
            (None, None) => return Ok(()),
        };
        answer.map_err(|not_until: NotUntil<Nanos>| OverRate {
            per_second,
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::Reference as _;

    fn buckets(default: Option<u32>, machines: &[(&str, u32)]) -> (StartLimits, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let machines = machines.iter().map(|(n, r)| (n.to_string(), *r)).collect();
        (
            StartLimits::with_clock(default, &machines, BucketClock::Fake(clock.clone())),
            clock,
        )
    }

    /// How many of `n` starts at one instant get through.
    fn admitted(limits: &StartLimits, machine: &str, n: usize) -> usize {
        (0..n).filter(|_| limits.check(machine).is_ok()).count()
    }

    #[tokio::test]
    async fn a_worker_waits_for_a_token_instead_of_refusing() {
        let (limits, clock) = buckets(Some(1000), &[("order", 2)]);
        let start = clock.now();
        let waited: Vec<bool> = vec![
            limits.wait("order").await,
            limits.wait("order").await,
            limits.wait("order").await,
        ];
        assert_eq!(waited, [false, false, true], "burst 2, the third waits");
        let slept = Duration::from(clock.now().duration_since(start));
        assert_eq!(
            slept,
            Duration::from_millis(500),
            "a token returns every 500 ms"
        );
        assert!(
            !limits.wait("other").await,
            "the default bucket is another's"
        );
        assert!(!StartLimits::new(None, &BTreeMap::new()).wait("x").await);
    }

    #[test]
    fn a_refusal_says_how_long_until_the_next_token() {
        let (limits, clock) = buckets(None, &[("order", 4)]);
        assert_eq!(admitted(&limits, "order", 4), 4);
        let over = limits.check("order").unwrap_err();
        assert_eq!(over.per_second, 4);
        assert_eq!(over.retry_after, Duration::from_millis(250));
        clock.advance(Duration::from_millis(100));
        assert_eq!(
            limits.check("order").unwrap_err().retry_after,
            Duration::from_millis(150)
        );
    }

    #[test]
    fn rates_parse_as_name_colon_rate() {
        assert_eq!(parse(" Order:7 "), Ok(("Order".into(), 7)));
        for bad in ["order", ":3", "order:", "order:-1", "order:fast"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_over_the_rate_is_refused_until_tokens_return() {
        let (limits, clock) = buckets(None, &[("order", 3)]);
        assert_eq!(admitted(&limits, "order", 10), 3, "burst = rate");
        assert_eq!(limits.check("order").unwrap_err().per_second, 3);
        clock.advance(Duration::from_millis(334));
        assert_eq!(admitted(&limits, "order", 10), 1, "one token per 1/rate s");
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            admitted(&limits, "order", 10),
            3,
            "never more than the burst"
        );
    }

    #[test]
    fn machines_have_buckets_of_their_own() {
        let (limits, _) = buckets(Some(2), &[("order", 5)]);
        assert_eq!(
            admitted(&limits, "order", 10),
            5,
            "the override replaces the default"
        );
        assert_eq!(
            admitted(&limits, "billing", 10),
            2,
            "the default, per machine"
        );
        assert_eq!(
            admitted(&limits, "shipping", 10),
            2,
            "billing's bucket is not shared"
        );
        assert_eq!(limits.check("billing").unwrap_err().per_second, 2);
    }

    #[test]
    fn without_a_default_other_machines_are_never_limited() {
        let (limits, _) = buckets(None, &[("order", 1)]);
        assert_eq!(admitted(&limits, "billing", 10_000), 10_000);
        let (nothing, _) = buckets(None, &[]);
        assert_eq!(admitted(&nothing, "order", 10_000), 10_000);
    }
}

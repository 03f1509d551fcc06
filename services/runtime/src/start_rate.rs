//! Start rate limits: a governor token bucket per state machine (burst = the rate per
//! second), configured by a default and per-machine rates. The gateway refuses a start over
//! the rate at once (`check`), as AWS refuses it, and the caller retries with backoff; a
//! worker waits instead (`wait`: it cannot refuse a record, and while it waits it reads no
//! further). Knows nothing of HTTP or Kafka.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;

type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;
type Keyed<C> =
    RateLimiter<String, DefaultKeyedStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

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
}

/// The buckets: one per configured machine, and one per other machine when there is a
/// default rate. Keys are the names of registered machines only (the caller checks the
/// registry first), so the keyed store stays as small as the registry.
pub struct StartLimits<C: Clock = DefaultClock> {
    default: Option<(u32, Keyed<C>)>,
    machines: HashMap<String, (u32, Direct<C>)>,
}

impl StartLimits {
    /// Buckets on the real clock. Zero rates (which `GatewayConfig::validate` refuses) mean
    /// no limit.
    pub fn new(default: Option<u32>, machines: &BTreeMap<String, u32>) -> StartLimits {
        StartLimits::with_clock(default, machines, DefaultClock::default())
    }
}

impl<C: Clock + Clone> StartLimits<C> {
    /// Buckets on `clock` (a fake one in tests).
    pub fn with_clock(
        default: Option<u32>,
        machines: &BTreeMap<String, u32>,
        clock: C,
    ) -> StartLimits<C> {
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
        }
    }

    /// Waits for a token from `machine`'s bucket; says whether it had to wait.
    pub async fn wait(&self, machine: &str) -> bool
    where
        C: governor::clock::ReasonablyRealtime,
    {
        if self.check(machine).is_ok() {
            return false;
        }
        match (self.machines.get(machine), &self.default) {
            (Some((_, limiter)), _) => limiter.until_ready().await,
            (None, Some((_, limiter))) => limiter.until_key_ready(&machine.to_owned()).await,
            (None, None) => {}
        }
        true
    }

    /// Takes a token from `machine`'s bucket, or says it is empty. A machine with neither an
    /// own rate nor a default is never limited.
    pub fn check(&self, machine: &str) -> Result<(), OverRate> {
        let (per_second, admitted) = match (self.machines.get(machine), &self.default) {
            (Some((rate, limiter)), _) => (*rate, limiter.check().is_ok()),
            (None, Some((rate, limiter))) => {
                // The keyed store wants an owned key; one small string per start.
                (*rate, limiter.check_key(&machine.to_owned()).is_ok())
            }
            (None, None) => return Ok(()),
        };
        if admitted {
            Ok(())
        } else {
            Err(OverRate { per_second })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    fn buckets(
        default: Option<u32>,
        machines: &[(&str, u32)],
    ) -> (StartLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let machines = machines.iter().map(|(n, r)| (n.to_string(), *r)).collect();
        (
            StartLimits::with_clock(default, &machines, clock.clone()),
            clock,
        )
    }

    /// How many of `n` starts at one instant get through.
    fn admitted(limits: &StartLimits<FakeRelativeClock>, machine: &str, n: usize) -> usize {
        (0..n).filter(|_| limits.check(machine).is_ok()).count()
    }

    #[tokio::test]
    async fn a_worker_waits_for_a_token_instead_of_refusing() {
        let limits = StartLimits::new(Some(1000), &[("order".to_owned(), 2)].into());
        let started = std::time::Instant::now();
        let waited: Vec<bool> = vec![
            limits.wait("order").await,
            limits.wait("order").await,
            limits.wait("order").await,
        ];
        assert_eq!(waited, [false, false, true], "burst 2, the third waits");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "a token returns every 500 ms"
        );
        assert!(
            !limits.wait("other").await,
            "the default bucket is another's"
        );
        assert!(!StartLimits::new(None, &BTreeMap::new()).wait("x").await);
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
        assert_eq!(limits.check("order"), Err(OverRate { per_second: 3 }));
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
        assert_eq!(limits.check("billing"), Err(OverRate { per_second: 2 }));
    }

    #[test]
    fn without_a_default_other_machines_are_never_limited() {
        let (limits, _) = buckets(None, &[("order", 1)]);
        assert_eq!(admitted(&limits, "billing", 10_000), 10_000);
        let (nothing, _) = buckets(None, &[]);
        assert_eq!(admitted(&nothing, "order", 10_000), 10_000);
    }
}

//! Start rate limits: a governor token bucket per state machine in front of StartExecution
//! and StartSyncExecution (burst = the rate per second). Over the rate a start is refused
//! at once, as AWS refuses it, rather than queued: the caller retries with backoff, while a
//! worker waits instead (it cannot refuse a record). Knows nothing of HTTP.

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

//! The in-process store, for one worker: a mutex-guarded map with expiry times, keyed by a
//! 128-bit keyed hash of each claim key.

use super::{effective_ttl, Claim, ClaimKey, DuplicateOf, IdempotencyStore, RecordId, StoreError};
use futures::future::BoxFuture;
use siphasher::sip128::{Hasher128 as _, SipHasher13};
use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Where a [`MemoryStore`] reads the time. Injected so tests can move it.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Below this many entries the store never sweeps; above it, it sweeps when the map has
/// doubled since the last sweep (amortized O(1) per insert).
const SWEEP_FLOOR: usize = 1024;

/// Idempotency claims in this process's memory. Lost on restart; not shared between workers.
///
/// Expired entries behave as absent; they are dropped when touched, and all at once whenever
/// the map has doubled since the last sweep.
pub struct MemoryStore {
    now: Clock,
    /// The SipHash key of the fingerprints, drawn per store.
    keys: (u64, u64),
    inner: Mutex<Inner>,
}

struct Inner {
    /// By fingerprint. The map holds every key of the window (a claim and a completion per
    /// record): with the keys themselves it held two heap strings per entry, copied at each
    /// claim and read again at each probe and at each growth, a tenth of the worker's time.
    /// A fingerprint is already uniformly random: foldhash's fast variant only folds it.
    entries: HashMap<Fingerprint, Entry, foldhash::fast::RandomState>,
    sweep_at: usize,
}

/// A claim key as a 128-bit SipHash-1-3 under a key drawn per store. Two claim keys share
/// a fingerprint with probability 2⁻¹²⁸ per pair, and SipHash is a keyed pseudo-random
/// function: producers, who choose the keys but never see the store's, cannot make them
/// collide. Even a billion keys in one window leave the chance of any collision below
/// 10⁻²⁰, far below that of the hardware flipping a bit.
type Fingerprint = u128;

struct Entry {
    state: State,
    /// `None`: the deadline overflowed `Instant`, so never.
    expires_at: Option<Instant>,
}

enum State {
    Running(RecordId),
    Completed {
        record: RecordId,
        execution_arn: Box<str>,
    },
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

impl MemoryStore {
    /// A store on the system's monotonic clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(Instant::now))
    }

    /// A store reading the time from `now`.
    pub fn with_clock(now: Clock) -> Self {
        MemoryStore {
            now,
            keys: (rand::random(), rand::random()),
            inner: Mutex::new(Inner {
                entries: HashMap::default(),
                sweep_at: SWEEP_FLOOR,
            }),
        }
    }

    /// The number of entries held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a single map operation, so a panic elsewhere cannot leave the map
        // half-written: the poisoned state is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fingerprint(&self, key: &ClaimKey) -> Fingerprint {
        let mut hasher = SipHasher13::new_with_keys(self.keys.0, self.keys.1);
        // `Hash` for a string ends it with a marker byte: no two keys write the same bytes.
        key.hash(&mut hasher);
        hasher.finish128().as_u128()
    }

    fn deadline(now: Instant, ttl: Duration) -> Option<Instant> {
        now.checked_add(effective_ttl(ttl))
    }

    fn claim_now(&self, key: &ClaimKey, record: &RecordId, running_ttl: Duration) -> Claim {
        let now = (self.now)();
        let running = Entry {
            state: State::Running(record.clone()),
            expires_at: Self::deadline(now, running_ttl),
        };
        let mut inner = self.lock();
        // One lookup: with a key per execution the map is large, and each probe a cache miss.
        match inner.entries.entry(self.fingerprint(key)) {
            MapEntry::Occupied(mut held) if held.get().live(now) => {
                let entry = held.get_mut();
                match &entry.state {
                    State::Running(holder) if holder == record => {
                        entry.expires_at = running.expires_at;
                        Claim::TakenOver
                    }
                    State::Running(holder) => {
                        Claim::Duplicate(DuplicateOf::Running(holder.clone()))
                    }
                    State::Completed {
                        record,
                        execution_arn,
                    } => Claim::Duplicate(DuplicateOf::Completed {
                        record: record.clone(),
                        execution_arn: execution_arn.to_string(),
                    }),
                }
            }
            MapEntry::Occupied(mut expired) => {
                expired.insert(running);
                Claim::Claimed
            }
            MapEntry::Vacant(absent) => {
                absent.insert(running);
                inner.swept(now);
                Claim::Claimed
            }
        }
    }

    fn complete_now(
        &self,
        key: &ClaimKey,
        record: &RecordId,
        execution_arn: &str,
        window: Duration,
    ) {
        let now = (self.now)();
        let completed = || Entry {
            state: State::Completed {
                record: record.clone(),
                execution_arn: execution_arn.into(),
            },
            expires_at: Self::deadline(now, window),
        };
        let mut inner = self.lock();
        // Ours to complete: absent, expired, or running by this record — updated in place,
        // since it is almost always still there from the claim.
        let key = self.fingerprint(key);
        match inner.entries.get_mut(&key) {
            Some(entry) => {
                let ours = !entry.live(now)
                    || matches!(&entry.state, State::Running(holder) if holder == record);
                if ours {
                    *entry = completed();
                }
            }
            None => {
                inner.entries.insert(key, completed());
                inner.swept(now);
            }
        }
    }

    fn release_now(&self, key: &ClaimKey, record: &RecordId) {
        let now = (self.now)();
        let mut inner = self.lock();
        let key = self.fingerprint(key);
        let drop_it = match inner.entries.get(&key) {
            None => false,
            Some(entry) => {
                !entry.live(now)
                    || matches!(&entry.state, State::Running(holder) if holder == record)
            }
        };
        if drop_it {
            inner.entries.remove(&key);
        }
    }
}

impl Inner {
    /// After an insert: drops the expired entries once the map has doubled since last time.
    fn swept(&mut self, now: Instant) {
        if self.entries.len() >= self.sweep_at {
            self.entries.retain(|_, e| e.live(now));
            self.sweep_at = (self.entries.len() * 2).max(SWEEP_FLOOR);
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
        running_ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move { Ok(self.claim_now(key, record, running_ttl)) })
    }

    fn claim_in_place(
        &self,
        key: &ClaimKey,
        record: &RecordId,
        running_ttl: Duration,
    ) -> Option<Result<Claim, StoreError>> {
        Some(Ok(self.claim_now(key, record, running_ttl)))
    }

    fn complete_in_place(
        &self,
        key: &ClaimKey,
        record: &RecordId,
        execution_arn: &str,
        window: Duration,
    ) -> Option<Result<(), StoreError>> {
        self.complete_now(key, record, execution_arn, window);
        Some(Ok(()))
    }

    fn complete<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
        execution_arn: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.complete_now(key, record, execution_arn, window);
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.release_now(key, record);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;

    /// A clock that moves only when told.
    #[derive(Clone)]
    struct ManualClock {
        start: Instant,
        elapsed: Arc<Mutex<Duration>>,
    }

    impl ManualClock {
        fn new() -> Self {
            ManualClock {
                start: Instant::now(),
                elapsed: Arc::new(Mutex::new(Duration::ZERO)),
            }
        }

        fn advance(&self, by: Duration) {
            *self.elapsed.lock().unwrap() += by;
        }

        fn store(&self) -> MemoryStore {
            let clock = self.clone();
            MemoryStore::with_clock(Arc::new(move || {
                clock.start + *clock.elapsed.lock().unwrap()
            }))
        }
    }

    fn key(k: &str) -> ClaimKey {
        ClaimKey::new("orders", k)
    }

    fn rec(offset: i64) -> RecordId {
        RecordId::new("quickstep.start", 0, offset)
    }

    const SEC: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn claim_transitions() {
        conformance::claim_transitions(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn complete_then_claims_are_duplicates() {
        conformance::complete_then_claims_are_duplicates(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn complete_when_absent() {
        conformance::complete_when_absent(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn complete_by_other_record_leaves_holder() {
        conformance::complete_by_other_record_leaves_holder(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn release_transitions() {
        conformance::release_transitions(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn scopes_are_independent() {
        conformance::scopes_are_independent(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn record_ids_round_trip() {
        conformance::record_ids_round_trip(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn answers_in_place_as_through_the_futures() {
        let store = MemoryStore::new();
        let k = key("k");
        assert_eq!(
            store.claim_in_place(&k, &rec(1), SEC),
            Some(Ok(Claim::Claimed))
        );
        assert_eq!(
            store.claim(&k, &rec(2), SEC).await,
            Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
        );
        assert_eq!(
            store.complete_in_place(&k, &rec(1), "arn:1", SEC),
            Some(Ok(()))
        );
        assert_eq!(
            store.claim_in_place(&k, &rec(2), SEC),
            Some(Ok(Claim::Duplicate(DuplicateOf::Completed {
                record: rec(1),
                execution_arn: "arn:1".into()
            })))
        );
    }

    #[tokio::test]
    async fn keys_that_read_alike_joined_stay_apart() {
        // The fingerprint hashes the state machine and the key with an end marker each:
        // ("ab", "c") and ("a", "bc") write different bytes.
        let store = MemoryStore::new();
        let (first, second) = (ClaimKey::new("ab", "c"), ClaimKey::new("a", "bc"));
        assert_ne!(store.fingerprint(&first), store.fingerprint(&second));
        assert_eq!(store.claim(&first, &rec(1), SEC).await, Ok(Claim::Claimed));
        assert_eq!(store.claim(&second, &rec(2), SEC).await, Ok(Claim::Claimed));
        // Two stores draw their own SipHash keys.
        assert_ne!(
            store.fingerprint(&first),
            MemoryStore::new().fingerprint(&first)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_one_winner() {
        let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
        conformance::concurrent_claims_one_winner(vec![store], 1000).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_same_record() {
        let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
        conformance::concurrent_same_record(vec![store], 1000).await;
    }

    #[tokio::test]
    async fn running_claim_expires() {
        let clock = ManualClock::new();
        let store = clock.store();
        let k = key("k");
        assert_eq!(store.claim(&k, &rec(1), 10 * SEC).await, Ok(Claim::Claimed));
        clock.advance(10 * SEC - Duration::from_nanos(1));
        assert_eq!(
            store.claim(&k, &rec(2), SEC).await,
            Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
        );
        clock.advance(Duration::from_nanos(1));
        // Expired: absent to everyone, the old holder included.
        assert_eq!(store.claim(&k, &rec(2), SEC).await, Ok(Claim::Claimed));
        clock.advance(SEC);
        assert_eq!(store.claim(&k, &rec(1), SEC).await, Ok(Claim::Claimed));
    }

    #[tokio::test]
    async fn take_over_refreshes_the_ttl() {
        let clock = ManualClock::new();
        let store = clock.store();
        let k = key("k");
        assert_eq!(store.claim(&k, &rec(1), 10 * SEC).await, Ok(Claim::Claimed));
        clock.advance(9 * SEC);
        assert_eq!(
            store.claim(&k, &rec(1), 10 * SEC).await,
            Ok(Claim::TakenOver)
        );
        clock.advance(9 * SEC);
        assert_eq!(
            store.claim(&k, &rec(2), SEC).await,
            Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
        );
        clock.advance(SEC);
        assert_eq!(store.claim(&k, &rec(2), SEC).await, Ok(Claim::Claimed));
    }

    #[tokio::test]
    async fn completed_expires_after_the_window() {
        let clock = ManualClock::new();
        let store = clock.store();
        let k = key("k");
        assert_eq!(store.claim(&k, &rec(1), SEC).await, Ok(Claim::Claimed));
        // The window is counted from completion, not from the claim.
        clock.advance(SEC / 2);
        store
            .complete(&k, &rec(1), "arn:1", 60 * SEC)
            .await
            .unwrap();
        clock.advance(60 * SEC - Duration::from_nanos(1));
        assert!(matches!(
            store.claim(&k, &rec(2), SEC).await,
            Ok(Claim::Duplicate(DuplicateOf::Completed { .. }))
        ));
        clock.advance(Duration::from_nanos(1));
        assert_eq!(store.claim(&k, &rec(2), SEC).await, Ok(Claim::Claimed));
    }

    #[tokio::test]
    async fn complete_after_expiry_and_reclaim_leaves_new_holder() {
        let clock = ManualClock::new();
        let store = clock.store();
        let k = key("k");
        assert_eq!(store.claim(&k, &rec(1), SEC).await, Ok(Claim::Claimed));
        clock.advance(2 * SEC);
        // rec(1)'s claim expired; rec(2) (a redelivery after a rebalance) claims.
        assert_eq!(store.claim(&k, &rec(2), SEC).await, Ok(Claim::Claimed));
        // The slow first execution finishes: it must not overwrite rec(2)'s claim.
        store
            .complete(&k, &rec(1), "arn:1", 60 * SEC)
            .await
            .unwrap();
        assert_eq!(store.claim(&k, &rec(2), SEC).await, Ok(Claim::TakenOver));
    }

    #[tokio::test]
    async fn expired_entry_complete_and_release() {
        let clock = ManualClock::new();
        let store = clock.store();
        let k = key("k");
        // complete on an expired claim of another record: treated as absent.
        assert_eq!(store.claim(&k, &rec(1), SEC).await, Ok(Claim::Claimed));
        clock.advance(SEC);
        store.complete(&k, &rec(2), "arn:2", SEC).await.unwrap();
        assert_eq!(
            store.claim(&k, &rec(3), SEC).await,
            Ok(Claim::Duplicate(DuplicateOf::Completed {
                record: rec(2),
                execution_arn: "arn:2".to_owned(),
            }))
        );
        // release of an expired entry drops it.
        clock.advance(SEC);
        store.release(&k, &rec(9)).await.unwrap();
        assert!(store.is_empty());
    }

    #[tokio::test]
    async fn zero_and_huge_durations() {
        let clock = ManualClock::new();
        let store = clock.store();
        let k = key("zero");
        // Zero is 1 ms.
        assert_eq!(
            store.claim(&k, &rec(1), Duration::ZERO).await,
            Ok(Claim::Claimed)
        );
        assert!(matches!(
            store.claim(&k, &rec(2), SEC).await,
            Ok(Claim::Duplicate(_))
        ));
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            store.claim(&k, &rec(2), Duration::MAX).await,
            Ok(Claim::Claimed)
        );
        clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
        // Clamped to 10 years, so a century later it is gone.
        assert_eq!(store.claim(&k, &rec(3), SEC).await, Ok(Claim::Claimed));
    }

    #[tokio::test]
    async fn expired_entries_are_swept() {
        let clock = ManualClock::new();
        let store = clock.store();
        for i in 0..SWEEP_FLOOR {
            let k = key(&format!("k{i}"));
            store.claim(&k, &rec(1), SEC).await.unwrap();
        }
        // The sweep at the floor found nothing expired.
        assert_eq!(store.len(), SWEEP_FLOOR);
        clock.advance(2 * SEC);
        for i in 0..SWEEP_FLOOR {
            let k = key(&format!("fresh{i}"));
            store.claim(&k, &rec(1), 10 * SEC).await.unwrap();
        }
        // The next sweep (at twice the floor) dropped the expired half.
        assert!(store.len() <= SWEEP_FLOOR + 1, "len {}", store.len());
    }
}

//! Idempotency: at most one execution per (state machine, idempotency key) within a window.
//!
//! Before a worker runs a start record it claims the record's key:
//!
//! | the key is …                              | [`IdempotencyStore::claim`] answers | the worker … |
//! |-------------------------------------------|--------------------------------------|--------------|
//! | absent (never seen, or expired)           | [`Claim::Claimed`], now running by this record | runs it |
//! | running by the *same* record (topic, partition, offset) | [`Claim::TakenOver`], TTL refreshed | runs it: the record was redelivered because its first worker died or lost the partition |
//! | running by another record                 | [`Claim::Duplicate`] ([`DuplicateOf::Running`]) | skips and counts it |
//! | completed (by any record, this one too)   | [`Claim::Duplicate`] ([`DuplicateOf::Completed`]) | skips and counts it |
//!
//! A running claim lives for `running_ttl` (longer than the longest execution, so a dead worker's
//! claim frees itself); on completion [`IdempotencyStore::complete`] marks the key completed for
//! the idempotency window. [`IdempotencyStore::release`] gives a running claim back when the
//! execution never started.
//!
//! Stores: [`MemoryStore`] for one worker, [`RedisStore`] for many.

use futures::future::BoxFuture;
use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

mod memory;
mod redis;

pub use self::memory::MemoryStore;
pub use self::redis::{RedisStore, RedisStoreConfig, CLUSTER_SCHEME};

/// One Kafka record: where a start event came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordId {
    /// The topic: for consumed records, one name shared by every record of the topic (see
    /// `source::TopicNames`), so a copy is a pointer's, with no allocation and no shared
    /// reference count (each execution's task copies its record's id several times, on
    /// both of the runtime's threads).
    pub topic: Cow<'static, str>,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
}

impl RecordId {
    /// A record id from its parts.
    pub fn new(topic: impl Into<Cow<'static, str>>, partition: i32, offset: i64) -> Self {
        RecordId {
            topic: topic.into(),
            partition,
            offset,
        }
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]@{}", self.topic, self.partition, self.offset)
    }
}

/// The scope of an idempotency key: the same key under two state machines is two keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimKey {
    /// The state machine's name or ARN, as the worker routes it.
    pub state_machine: String,
    /// The idempotency key (header `quickstep-idempotency-key`, else the record key).
    pub key: String,
}

impl ClaimKey {
    /// A claim key from its parts.
    pub fn new(state_machine: impl Into<String>, key: impl Into<String>) -> Self {
        ClaimKey {
            state_machine: state_machine.into(),
            key: key.into(),
        }
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was absent; it is now running by this record.
    Claimed,
    /// The key was running by this same record (a redelivery); this record keeps it, TTL refreshed.
    TakenOver,
    /// Another record holds the key, or it completed: skip this record.
    Duplicate(DuplicateOf),
}

impl Claim {
    /// Whether the worker should run the execution (claimed or taken over).
    pub fn should_run(&self) -> bool {
        matches!(self, Claim::Claimed | Claim::TakenOver)
    }
}

/// What a duplicate duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DuplicateOf {
    /// Still running by this record.
    Running(RecordId),
    /// Completed by this record, as this execution.
    Completed {
        /// The record whose execution completed.
        record: RecordId,
        /// The completed execution's ARN.
        execution_arn: String,
    },
}

/// The kind of a [`StoreError`], for metrics labels and retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreErrorKind {
    /// See [`StoreError::Unavailable`].
    Unavailable,
    /// See [`StoreError::Protocol`].
    Protocol,
    /// See [`StoreError::Config`].
    Config,
}

impl StoreErrorKind {
    /// A short stable name: `unavailable`, `protocol` or `config`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Protocol => "protocol",
            StoreErrorKind::Config => "config",
        }
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached now (connection refused or dropped, timeout, server loading
    /// or failing over). Transient: pause and retry with backoff. The operation may or may not
    /// have happened; retrying it is safe (a repeated claim by the same record is
    /// [`Claim::TakenOver`], a repeated complete or release changes nothing).
    #[error("idempotency store unavailable: {0}")]
    Unavailable(String),
    /// The store answered something unexpected (a malformed value under a claim key, a wrong
    /// type, a script error). Retrying will not help.
    #[error("idempotency store protocol error: {0}")]
    Protocol(String),
    /// The store is misconfigured (e.g. an invalid URL). Only from constructors.
    #[error("idempotency store configuration error: {0}")]
    Config(String),
}

impl StoreError {
    /// The kind of this error.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Unavailable(_) => StoreErrorKind::Unavailable,
            StoreError::Protocol(_) => StoreErrorKind::Protocol,
            StoreError::Config(_) => StoreErrorKind::Config,
        }
    }

    /// Whether retrying later may succeed (only [`StoreError::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        self.kind() == StoreErrorKind::Unavailable
    }
}

/// Where claims live. Implementations are atomic per key: of many concurrent claims of one
/// absent key exactly one answers [`Claim::Claimed`].
///
/// Durations are clamped to `1 ms ..= 10 years` (see [`MAX_TTL`]).
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for `record`; a new or taken-over claim lives for `running_ttl`.
    fn claim<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
        running_ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// Marks `key` completed by `record` as `execution_arn` for `window`, if it is running by
    /// `record` or absent (the running claim expired). If another record holds the key, or it
    /// is already completed, leaves it and returns `Ok`.
    fn complete<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
        execution_arn: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// `claim`, answered in place by a store that needs no I/O (the memory store): no future
    /// to allocate per record. `None`: this store answers only through `claim`.
    fn claim_in_place(
        &self,
        _key: &ClaimKey,
        _record: &RecordId,
        _running_ttl: Duration,
    ) -> Option<Result<Claim, StoreError>> {
        None
    }

    /// `complete`, answered in place like `claim_in_place`; `None`: use `complete`.
    fn complete_in_place(
        &self,
        _key: &ClaimKey,
        _record: &RecordId,
        _execution_arn: &str,
        _window: Duration,
    ) -> Option<Result<(), StoreError>> {
        None
    }

    /// Releases a running claim without completing (e.g. the execution could not start); only
    /// if still held by `record`. Otherwise a no-op.
    fn release<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// The longest TTL a store keeps: 10 years. Longer durations are clamped to it.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// The TTL a store applies for `requested`: at least 1 ms, at most [`MAX_TTL`].
pub(crate) fn effective_ttl(requested: Duration) -> Duration {
    requested.clamp(Duration::from_millis(1), MAX_TTL)
}

/// The same transitions, run against every store.
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;
    use std::sync::Arc;

    const TTL: Duration = Duration::from_secs(60);
    const WINDOW: Duration = Duration::from_secs(600);

    fn key(k: &str) -> ClaimKey {
        ClaimKey::new("orders", k)
    }

    fn rec(offset: i64) -> RecordId {
        RecordId::new("quickstep.start", 3, offset)
    }

    /// Absent → Claimed; same record again → TakenOver; another record → Duplicate(Running).
    pub async fn claim_transitions(store: &dyn IdempotencyStore) {
        let k = key("claim-transitions");
        assert_eq!(store.claim(&k, &rec(1), TTL).await, Ok(Claim::Claimed));
        assert_eq!(store.claim(&k, &rec(1), TTL).await, Ok(Claim::TakenOver));
        assert_eq!(store.claim(&k, &rec(1), TTL).await, Ok(Claim::TakenOver));
        assert_eq!(
            store.claim(&k, &rec(2), TTL).await,
            Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
        );
        // Same offset on another partition or topic is another record.
        let other_partition = RecordId::new("quickstep.start", 4, 1);
        let other_topic = RecordId::new("other", 3, 1);
        for other in [other_partition, other_topic] {
            assert_eq!(
                store.claim(&k, &other, TTL).await,
                Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
            );
        }
    }

    /// Completed → every claim (the completing record's too) is Duplicate(Completed).
    pub async fn complete_then_claims_are_duplicates(store: &dyn IdempotencyStore) {
        let k = key("completed");
        let arn = "arn:aws:states:us-east-1:123456789012:express:orders:e1:x|y";
        assert_eq!(store.claim(&k, &rec(1), TTL).await, Ok(Claim::Claimed));
        assert_eq!(store.complete(&k, &rec(1), arn, WINDOW).await, Ok(()));
        let completed = Claim::Duplicate(DuplicateOf::Completed {
            record: rec(1),
            execution_arn: arn.to_owned(),
        });
        assert_eq!(store.claim(&k, &rec(1), TTL).await, Ok(completed.clone()));
        assert_eq!(store.claim(&k, &rec(2), TTL).await, Ok(completed.clone()));
        // Completing again (by anyone) and releasing leave it as it is.
        assert_eq!(store.complete(&k, &rec(1), "arn:2", WINDOW).await, Ok(()));
        assert_eq!(store.complete(&k, &rec(2), "arn:3", WINDOW).await, Ok(()));
        assert_eq!(store.release(&k, &rec(1)).await, Ok(()));
        assert_eq!(store.claim(&k, &rec(3), TTL).await, Ok(completed));
    }

    /// Complete with no claim (the running claim expired meanwhile) marks it completed.
    pub async fn complete_when_absent(store: &dyn IdempotencyStore) {
        let k = key("complete-absent");
        assert_eq!(store.complete(&k, &rec(7), "arn:7", WINDOW).await, Ok(()));
        assert_eq!(
            store.claim(&k, &rec(8), TTL).await,
            Ok(Claim::Duplicate(DuplicateOf::Completed {
                record: rec(7),
                execution_arn: "arn:7".to_owned(),
            }))
        );
    }

    /// Complete by a record that does not hold the key leaves the holder's claim.
    pub async fn complete_by_other_record_leaves_holder(store: &dyn IdempotencyStore) {
        let k = key("complete-other");
        assert_eq!(store.claim(&k, &rec(1), TTL).await, Ok(Claim::Claimed));
        assert_eq!(store.complete(&k, &rec(2), "arn:2", WINDOW).await, Ok(()));
        assert_eq!(
            store.claim(&k, &rec(3), TTL).await,
            Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
        );
        assert_eq!(store.claim(&k, &rec(1), TTL).await, Ok(Claim::TakenOver));
    }

    /// Release by the holder frees the key; by anyone else, or when absent, is a no-op.
    pub async fn release_transitions(store: &dyn IdempotencyStore) {
        let k = key("release");
        assert_eq!(store.release(&k, &rec(1)).await, Ok(()));
        assert_eq!(store.claim(&k, &rec(1), TTL).await, Ok(Claim::Claimed));
        assert_eq!(store.release(&k, &rec(2)).await, Ok(()));
        assert_eq!(
            store.claim(&k, &rec(2), TTL).await,
            Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
        );
        assert_eq!(store.release(&k, &rec(1)).await, Ok(()));
        assert_eq!(store.claim(&k, &rec(2), TTL).await, Ok(Claim::Claimed));
    }

    /// Keys are scoped by state machine, and any key bytes are distinct keys.
    pub async fn scopes_are_independent(store: &dyn IdempotencyStore) {
        let keys = [
            ClaimKey::new("a", "k"),
            ClaimKey::new("b", "k"),
            ClaimKey::new("a:b", "c"),
            ClaimKey::new("a", "b:c"),
            ClaimKey::new("a%3Ab", "c"),
            ClaimKey::new("a", "b%3Ac"),
            ClaimKey::new("a|b", "c|d"),
            ClaimKey::new("", ""),
            ClaimKey::new("é", "キー\n\0 *?[]{}"),
        ];
        for (i, k) in keys.iter().enumerate() {
            let offset = i64::try_from(i).unwrap_or(i64::MAX);
            assert_eq!(
                store.claim(k, &rec(offset), TTL).await,
                Ok(Claim::Claimed),
                "{k:?} collided with an earlier key"
            );
        }
        for (i, k) in keys.iter().enumerate() {
            let offset = i64::try_from(i).unwrap_or(i64::MAX);
            assert_eq!(
                store.claim(k, &rec(offset), TTL).await,
                Ok(Claim::TakenOver)
            );
        }
    }

    /// Odd record ids (separators in the topic, extreme numbers) round-trip.
    pub async fn record_ids_round_trip(store: &dyn IdempotencyStore) {
        let odd = [
            RecordId::new("t|with|bars", -1, i64::MIN),
            RecordId::new("t:colon%", i32::MAX, i64::MAX),
            RecordId::new("", 0, 0),
        ];
        for (i, r) in odd.iter().enumerate() {
            let running = key(&format!("odd-running-{i}"));
            assert_eq!(store.claim(&running, r, TTL).await, Ok(Claim::Claimed));
            assert_eq!(store.claim(&running, r, TTL).await, Ok(Claim::TakenOver));
            assert_eq!(
                store.claim(&running, &rec(1), TTL).await,
                Ok(Claim::Duplicate(DuplicateOf::Running(r.clone())))
            );
            let completed = key(&format!("odd-completed-{i}"));
            assert_eq!(store.claim(&completed, r, TTL).await, Ok(Claim::Claimed));
            assert_eq!(store.complete(&completed, r, "a|b|c", WINDOW).await, Ok(()));
            assert_eq!(
                store.claim(&completed, &rec(1), TTL).await,
                Ok(Claim::Duplicate(DuplicateOf::Completed {
                    record: r.clone(),
                    execution_arn: "a|b|c".to_owned(),
                }))
            );
        }
    }

    /// Many concurrent claims of one key by distinct records: exactly one Claimed, every other
    /// answer names the winner as running. `stores` may be several handles on one backend.
    pub async fn concurrent_claims_one_winner(stores: Vec<Arc<dyn IdempotencyStore>>, n: i64) {
        let k = key("contended");
        let mut tasks = Vec::new();
        for offset in 0..n {
            let index = usize::try_from(offset).unwrap_or(0) % stores.len();
            let store = Arc::clone(&stores[index]);
            let k = k.clone();
            tasks.push(tokio::spawn(async move {
                let r = rec(offset);
                let answer = store.claim(&k, &r, TTL).await;
                (r, answer)
            }));
        }
        let mut winners = Vec::new();
        let mut others = Vec::new();
        for task in tasks {
            let (r, answer) = task.await.expect("claim task panicked");
            match answer.expect("claim failed") {
                Claim::Claimed => winners.push(r),
                Claim::Duplicate(DuplicateOf::Running(holder)) => others.push(holder),
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one Claimed: {winners:?}");
        assert_eq!(others.len() as i64, n - 1);
        assert!(others.iter().all(|holder| *holder == winners[0]));
    }

    /// Many concurrent claims of one key by the same record: one Claimed, the rest TakenOver.
    pub async fn concurrent_same_record(stores: Vec<Arc<dyn IdempotencyStore>>, n: usize) {
        let k = key("contended-same");
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = Arc::clone(&stores[i % stores.len()]);
            let k = k.clone();
            tasks.push(tokio::spawn(
                async move { store.claim(&k, &rec(42), TTL).await },
            ));
        }
        let mut claimed = 0;
        let mut taken_over = 0;
        for task in tasks {
            match task
                .await
                .expect("claim task panicked")
                .expect("claim failed")
            {
                Claim::Claimed => claimed += 1,
                Claim::TakenOver => taken_over += 1,
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert_eq!((claimed, taken_over), (1, n - 1));
    }
}

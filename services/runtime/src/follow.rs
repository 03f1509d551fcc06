//! Following the compacted registry topic: applies each revision (or tombstone) to the
//! registry, and tells admission how far it has read, so a start record for a state machine
//! created a moment before it is not refused as unknown (AWS lets a caller start a machine
//! right after CreateStateMachine returns; the gateway writes the revision first).

use crate::kafka::KafkaSettings;
use crate::registry::{Registry, RegistryEntry};
use futures::future::BoxFuture;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DefaultProducerContext, Producer as _, ThreadedProducer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Lets a runner make sure the registry has read every revision written before a start:
/// a state machine created a moment before its first start record is then found.
pub trait RegistrySync: Send + Sync {
    /// Resolves once every revision written before `produced_ms` (the record's timestamp;
    /// `None`: any time) is applied, or after a bounded wait.
    fn catch_up<'a>(&'a self, produced_ms: Option<i64>) -> BoxFuture<'a, ()>;
}

/// How long admission waits for the registry to catch up before refusing a record whose
/// state machine it does not know.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(5);

/// How long a round waits for the reader to apply the record it was handed last: the
/// consumer's position moves past a record as it hands it out, before the reader applies it
/// — or past a control record, which it never hands out, and the wait ends at this bound.
const APPLY_GRACE: Duration = Duration::from_millis(200);

/// How far the registry reader has read: the next offset per partition it has applied, and
/// a time before which every revision written is known to be applied.
pub struct RegistryProgress {
    consumer: Arc<StreamConsumer>,
    /// Asks the topic's end (see [`RegistryProgress::connect`]).
    probe: Arc<ThreadedProducer<DefaultProducerContext>>,
    topic: String,
    applied: watch::Sender<HashMap<i32, i64>>,
    /// Epoch ms: every revision written before it is applied (compared with other clocks'
    /// record timestamps).
    confirmed_ms: AtomicI64,
    /// This process's clock: every revision acknowledged before it is applied (what a
    /// gateway's second look asks; a step of the wall clock does not move it).
    confirmed_at: std::sync::Mutex<Option<Instant>>,
    /// One round of asking the broker at a time; callers waiting for it reuse its answer.
    round: tokio::sync::Mutex<()>,
}

/// Clocks of producers and workers differ a little: a record is taken as written this much
/// later than its timestamp says.
const CLOCK_SKEW_MS: i64 = 1_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl RegistryProgress {
    /// The registry reader's consumer (every partition of `topic`, from the beginning) and a
    /// client of its own to ask the topic's end with. Asked through the reader's consumer,
    /// each partition's ListOffsets waited on the broker connection behind the reader's
    /// long-poll fetch (a broker answers a connection's requests in order; up to
    /// `fetch.wait.max.ms`, 500 ms, a partition): on a quiet registry of six partitions a round
    /// took seconds, and every gateway second look hit its 2 s cap. The probe is a producer
    /// that never produces: librdkafka's producer thread serves its events.
    pub fn connect(
        kafka: &KafkaSettings,
        topic: &str,
    ) -> Result<Arc<RegistryProgress>, KafkaError> {
        let consumer = kafka.registry_consumer()?;
        let probe = kafka.with_overrides(kafka.client()).create()?;
        Ok(Arc::new(RegistryProgress {
            consumer: Arc::new(consumer),
            probe: Arc::new(probe),
            topic: topic.to_owned(),
            applied: watch::Sender::new(HashMap::new()),
            confirmed_ms: AtomicI64::new(i64::MIN),
            confirmed_at: std::sync::Mutex::new(None),
            round: tokio::sync::Mutex::new(()),
        }))
    }

    /// Every assigned partition's (start, end) now, with the reader's position in it (broker
    /// round trips, so off the async threads). `None` when they cannot be known — including
    /// no partition assigned yet, which must not pass for "caught up".
    async fn ends(&self) -> Option<Vec<Partition>> {
        let consumer = self.consumer.clone();
        let probe = self.probe.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            let assignment = consumer.assignment().ok()?;
            if assignment.count() == 0 {
                return None;
            }
            let positions = consumer.position().ok()?;
            assignment
                .elements()
                .iter()
                .map(|e| {
                    let (start, end) = probe
                        .client()
                        .fetch_watermarks(&topic, e.partition(), Duration::from_secs(2))
                        .ok()?;
                    let position = positions
                        .find_partition(&topic, e.partition())
                        .and_then(|p| p.offset().to_raw())
                        .unwrap_or(-1);
                    Some(Partition {
                        id: e.partition(),
                        start,
                        end,
                        position,
                    })
                })
                .collect()
        })
        .await
        .ok()
        .flatten()
    }

    /// The consumer it watches (its reader reads through it).
    pub fn consumer(&self) -> &StreamConsumer {
        &self.consumer
    }

    /// Whether a catch-up round has ever confirmed the topic read to its end.
    pub fn confirmed(&self) -> bool {
        self.confirmed_ms.load(Ordering::Relaxed) > i64::MIN
    }

    fn applied(&self, partition: i32, offset: i64) {
        self.applied.send_modify(|applied| {
            applied.insert(partition, offset + 1);
        });
    }
}

/// One registry partition as a catch-up round sees it.
struct Partition {
    id: i32,
    /// The first offset still stored (retention may have emptied the partition).
    start: i64,
    /// The offset the next write gets.
    end: i64,
    /// The reader's fetch position (`-1`: none yet).
    position: i64,
}

/// How far the reader is through a partition's records below the end a round saw (ordered:
/// a round is as far as its least-read partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    /// Applied to the end, or nothing to read (retention emptied the partition).
    Read,
    /// Handed out to the end (the consumer is past it), not all applied: the last record is
    /// being applied, or is a control record the reader never sees.
    HandedOut,
    /// Records below the end are still to come.
    Unread,
}

impl Partition {
    fn seen(&self, applied: Option<i64>) -> Seen {
        if self.start >= self.end || applied.is_some_and(|next| next >= self.end) {
            Seen::Read
        } else if self.position >= self.end {
            Seen::HandedOut
        } else {
            Seen::Unread
        }
    }
}

/// When a round must have begun for a caller to take its answer.
#[derive(Debug, Clone, Copy)]
enum Since {
    /// After this record timestamp (epoch ms, another process's clock).
    Written(i64),
    /// After this moment of this process.
    Asked(Instant),
}

impl RegistryProgress {
    /// Resolves once every revision written to the topic before now is applied (or after a
    /// bounded wait): a round that starts after this call reads the topic's end, which holds
    /// every write acknowledged before it, whichever process wrote it — no clock compared.
    /// The gateway's second look after a miss (a machine created through another gateway a
    /// moment ago) waits for it.
    pub async fn read_to_now(&self) {
        self.confirm(Since::Asked(Instant::now())).await
    }

    /// Whether a confirmed round began late enough for `since`.
    fn covers(&self, since: Since) -> bool {
        match since {
            Since::Written(ms) => ms <= self.confirmed_ms.load(Ordering::Relaxed),
            Since::Asked(at) => self
                .confirmed_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_some_and(|confirmed| confirmed > at),
        }
    }

    /// Resolves once a round that began after `since` has confirmed the topic read to the
    /// end it saw, or after a bounded wait.
    async fn confirm(&self, since: Since) {
        if self.covers(since) {
            return;
        }
        // Concurrent callers wait for one round and reuse what it confirmed.
        let _round = self.round.lock().await;
        if self.covers(since) {
            return;
        }
        let (asked_ms, asked_at) = (now_ms(), Instant::now());
        let Some(ends) = self.ends().await else {
            tracing::warn!(
                message =
                    "Cannot read the registry topic's end: the registry is not known to be read."
            );
            return;
        };
        let mut applied = self.applied.subscribe();
        let caught_up = tokio::time::timeout(CATCH_UP_LIMIT, async {
            loop {
                let seen = {
                    let applied = applied.borrow_and_update();
                    ends.iter()
                        .map(|p| p.seen(applied.get(&p.id).copied()))
                        .max()
                        .unwrap_or(Seen::Read)
                };
                let changed = match seen {
                    Seen::Read => return true,
                    // Taken as read unless an apply lands within the grace (then look again).
                    Seen::HandedOut => {
                        match tokio::time::timeout(APPLY_GRACE, applied.changed()).await {
                            Err(_) => return true,
                            Ok(changed) => changed,
                        }
                    }
                    Seen::Unread => applied.changed().await,
                };
                if changed.is_err() {
                    return false;
                }
            }
        })
        .await;
        if caught_up == Ok(true) {
            self.confirmed_ms.fetch_max(asked_ms, Ordering::Relaxed);
            let mut confirmed = self
                .confirmed_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *confirmed = Some(confirmed.map_or(asked_at, |at| at.max(asked_at)));
        } else {
            tracing::warn!(message = "The registry did not catch up in time.", limit = ?CATCH_UP_LIMIT);
        }
    }
}

impl RegistrySync for RegistryProgress {
    fn catch_up<'a>(&'a self, produced_ms: Option<i64>) -> BoxFuture<'a, ()> {
        // A record with no timestamp may be from any time: confirm. One with a timestamp was
        // stamped by another clock: a round must begin after it, give or take the skew.
        let since = produced_ms.map_or(i64::MAX, |t| t.saturating_add(CLOCK_SKEW_MS));
        Box::pin(self.confirm(Since::Written(since)))
    }
}

/// Reads the registry topic from its beginning until `shutdown`: every record is a revision
/// (value = `RegistryEntry` JSON) or a tombstone (no value) deleting the state machine.
pub async fn follow(
    progress: Arc<RegistryProgress>,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) {
    let consumer = progress.consumer.clone();
    let apply = |name: &str, payload: Option<&[u8]>, written_ms: Option<i64>| match payload {
        None => registry.remove(name, written_ms.unwrap_or_else(now_ms)),
        Some(payload) => match serde_json::from_slice::<RegistryEntry>(payload) {
            Ok(entry) => match registry.apply(&entry) {
                Ok(revision) => {
                    tracing::info!(message = "State machine registered.", name = %revision.name)
                }
                Err(error) => tracing::warn!(message = "Registry revision refused.", %error),
            },
            Err(error) => {
                tracing::warn!(message = "Registry record is not an entry.", %error, name)
            }
        },
    };
    read(&consumer, Some(&progress), apply, shutdown).await
}

/// Reads a topic until `shutdown`, handing each record's key (for the registry, the state
/// machine's name), value (`None`: a tombstone) and timestamp to `apply`, then noting its
/// offset in `progress`. The workers' registry, the gateway's catalog and the callback router all
/// follow their topics through it.
pub async fn read(
    consumer: &StreamConsumer,
    progress: Option<&RegistryProgress>,
    mut apply: impl FnMut(&str, Option<&[u8]>, Option<i64>),
    shutdown: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return,
            message = consumer.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(message = "Consumer error.", %error);
                continue;
            }
        };
        let name = message
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .unwrap_or_default();
        apply(name, message.payload(), message.timestamp().to_millis());
        if let Some(progress) = progress {
            progress.applied(message.partition(), message.offset());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Partition, Seen};

    fn partition(start: i64, end: i64, position: i64) -> Partition {
        Partition {
            id: 0,
            start,
            end,
            position,
        }
    }

    #[test]
    fn a_partition_is_read_when_applied_or_empty_and_handed_out_when_only_positioned() {
        assert_eq!(
            partition(0, 5, -1).seen(None),
            Seen::Unread,
            "nothing read yet"
        );
        assert_eq!(partition(0, 5, 3).seen(Some(3)), Seen::Unread, "two to go");
        assert_eq!(
            partition(0, 5, 3).seen(Some(5)),
            Seen::Read,
            "applied to the end"
        );
        assert_eq!(
            partition(0, 5, 5).seen(Some(4)),
            Seen::HandedOut,
            "past the last record: it is being applied, or a control record never handed out"
        );
        assert_eq!(
            partition(7, 7, -1).seen(None),
            Seen::Read,
            "retention emptied it: nothing to read"
        );
        assert!(Seen::Read < Seen::HandedOut && Seen::HandedOut < Seen::Unread);
    }
}

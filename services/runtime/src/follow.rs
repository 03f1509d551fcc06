//! Following the compacted registry topic: applies each revision (or tombstone) to the
//! registry, and tells admission how far it has read, so a start record for a state machine
//! created a moment before it is not refused as unknown (AWS lets a caller start a machine
//! right after CreateStateMachine returns; the gateway writes the revision first).

use crate::registry::{Registry, RegistryEntry};
use futures::future::BoxFuture;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
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

/// How far the registry reader has read: the next offset per partition it has applied, and
/// a time before which every revision written is known to be applied.
pub struct RegistryProgress {
    consumer: Arc<StreamConsumer>,
    topic: String,
    applied: watch::Sender<HashMap<i32, i64>>,
    /// Epoch ms: every revision written before it is applied.
    confirmed_ms: AtomicI64,
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
    /// Progress of `consumer`, assigned every partition of `topic`.
    pub fn new(consumer: Arc<StreamConsumer>, topic: String) -> Arc<RegistryProgress> {
        Arc::new(RegistryProgress {
            consumer,
            topic,
            applied: watch::Sender::new(HashMap::new()),
            confirmed_ms: AtomicI64::new(i64::MIN),
            round: tokio::sync::Mutex::new(()),
        })
    }

    /// Every assigned partition's (start, end) now, with the reader's position in it (broker
    /// round trips, so off the async threads). `None` when they cannot be known — including
    /// no partition assigned yet, which must not pass for "caught up".
    async fn ends(&self) -> Option<Vec<Partition>> {
        let consumer = self.consumer.clone();
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
                    let (start, end) = consumer
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

impl Partition {
    /// Whether everything below `end` has been read: applied, skipped by the reader (control
    /// records), or gone (an emptied partition).
    fn read(&self, applied: Option<i64>) -> bool {
        self.start >= self.end
            || self.position >= self.end
            || applied.is_some_and(|next| next >= self.end)
    }
}

impl RegistryProgress {
    /// Resolves once every revision written to the topic before now is applied (or after a
    /// bounded wait): a round that starts after this call reads the topic's end, which holds
    /// every write acknowledged before it, whichever process wrote it — no clock compared.
    /// The gateway's second look after a miss (a machine created through another gateway a
    /// moment ago) waits for it.
    pub async fn read_to_now(&self) {
        // A round asked in this same millisecond may have begun before this call.
        self.confirm(now_ms().saturating_add(1)).await
    }

    /// Resolves once a round that began at or after `since_ms` has confirmed the topic read
    /// to the end it saw, or after a bounded wait.
    async fn confirm(&self, since_ms: i64) {
        if since_ms <= self.confirmed_ms.load(Ordering::Relaxed) {
            return;
        }
        // Concurrent callers wait for one round and reuse what it confirmed.
        let _round = self.round.lock().await;
        if since_ms <= self.confirmed_ms.load(Ordering::Relaxed) {
            return;
        }
        let asked_ms = now_ms();
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
                let done = {
                    let applied = applied.borrow_and_update();
                    ends.iter().all(|p| p.read(applied.get(&p.id).copied()))
                };
                if done || applied.changed().await.is_err() {
                    return done;
                }
            }
        })
        .await;
        if caught_up == Ok(true) {
            self.confirmed_ms.fetch_max(asked_ms, Ordering::Relaxed);
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
        Box::pin(self.confirm(since))
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
    use super::Partition;

    fn partition(start: i64, end: i64, position: i64) -> Partition {
        Partition {
            id: 0,
            start,
            end,
            position,
        }
    }

    #[test]
    fn a_partition_is_read_when_applied_positioned_or_empty() {
        assert!(!partition(0, 5, -1).read(None), "nothing read yet");
        assert!(!partition(0, 5, 3).read(Some(3)), "two to go");
        assert!(partition(0, 5, 3).read(Some(5)), "applied to the end");
        assert!(
            partition(0, 5, 5).read(Some(4)),
            "the reader is past a record it never hands out (a control record)"
        );
        assert!(
            partition(7, 7, -1).read(None),
            "retention emptied it: nothing to read"
        );
    }
}

//! Following the compacted registry topic: applies each revision (or tombstone) to the
//! registry, and tells admission how far it has read, so a start record for a state machine
//! created a moment before it is not refused as unknown (AWS lets a caller start a machine
//! right after CreateStateMachine returns; the gateway writes the revision first).

use crate::admit::RegistrySync;
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
}

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
        })
    }

    /// The end of every partition now (a broker round trip, so off the async threads).
    async fn ends(&self) -> Option<Vec<(i32, i64)>> {
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            let assignment = consumer.assignment().ok()?;
            assignment
                .elements()
                .iter()
                .map(|e| {
                    consumer
                        .fetch_watermarks(&topic, e.partition(), Duration::from_secs(2))
                        .map(|(_, high)| (e.partition(), high))
                        .ok()
                })
                .collect()
        })
        .await
        .ok()
        .flatten()
    }

    fn applied(&self, partition: i32, offset: i64) {
        self.applied.send_modify(|applied| {
            applied.insert(partition, offset + 1);
        });
    }
}

impl RegistrySync for RegistryProgress {
    fn catch_up<'a>(&'a self, produced_ms: Option<i64>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // A record with no timestamp may be from any time: confirm.
            if produced_ms.is_some_and(|t| t <= self.confirmed_ms.load(Ordering::Relaxed)) {
                return;
            }
            let asked_ms = now_ms();
            let Some(ends) = self.ends().await else {
                tracing::warn!(message = "Cannot read the registry topic's end; refusing unknown state machines without waiting.");
                return;
            };
            let mut applied = self.applied.subscribe();
            let caught_up = tokio::time::timeout(CATCH_UP_LIMIT, async {
                loop {
                    let done = {
                        let applied = applied.borrow_and_update();
                        ends.iter()
                            .all(|(p, end)| applied.get(p).copied().unwrap_or(0) >= *end)
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
        })
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
    let apply = |name: &str, payload: Option<&[u8]>| match payload {
        None => registry.remove(name),
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

/// Reads a registry topic until `shutdown`, handing each record's key (the state machine's
/// name) and value (`None`: a tombstone) to `apply`, then noting its offset in `progress`.
/// The workers' registry and the gateway's catalog both follow the topic through it.
pub async fn read(
    consumer: &StreamConsumer,
    progress: Option<&RegistryProgress>,
    mut apply: impl FnMut(&str, Option<&[u8]>),
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
                tracing::warn!(message = "Registry consumer error.", %error);
                continue;
            }
        };
        let name = message
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .unwrap_or_default();
        apply(name, message.payload());
        if let Some(progress) = progress {
            progress.applied(message.partition(), message.offset());
        }
    }
}

//! Feeds the store from Kafka: one consumer of its own reads the results topic and the
//! history topic from the beginning, decodes each record, and applies them in batches (one
//! SQLite transaction each, off the async threads); retention runs between batches. A batch
//! that cannot be written is tried again until it is: the reader reads on only after it.

use crate::db::{Record, Store, StoreError};
use crate::record::{decode_event, decode_execution, decode_result};
use quickstep_proto::{ContentType, CONTENT_TYPE_HEADER};
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::Headers;
use rdkafka::Message;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Records applied in one transaction at most.
const BATCH: usize = 2048;
/// How long a batch waits for more records once it has one: short, so an execution shows
/// within a second of its result.
const LINGER: Duration = Duration::from_millis(20);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(30);
/// The first wait before a failed batch is tried again; it doubles up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the reader writes to: the [`Store`] (a test's stand-in fails on cue).
pub trait Sink: Send + Sync + 'static {
    /// Applies a batch in one transaction.
    fn apply(&self, records: &[Record]) -> Result<(), StoreError>;
    /// Deletes what retention no longer keeps; how many executions went.
    fn enforce_retention(&self, now_ms: i64) -> Result<u64, StoreError>;
}

impl Sink for Store {
    fn apply(&self, records: &[Record]) -> Result<(), StoreError> {
        Store::apply(self, records)
    }

    fn enforce_retention(&self, now_ms: i64) -> Result<u64, StoreError> {
        Store::enforce_retention(self, now_ms)
    }
}

/// The topics the store reads.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Result records (`quickstep.results`).
    pub results: String,
    /// History records, when history goes to Kafka.
    pub history: Option<String>,
}

impl Topics {
    /// Both topic names, for the consumer's assignment.
    pub fn names(&self) -> Vec<&str> {
        std::iter::once(self.results.as_str())
            .chain(self.history.as_deref())
            .collect()
    }

    /// Decodes a record of one of the topics; None for a tombstone or another topic.
    pub fn decode(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
    ) -> Option<Result<Record, crate::record::DecodeError>> {
        let payload = payload?;
        if topic == self.results {
            Some(decode_result(payload).map(Record::Result))
        } else if self.history.as_deref() == Some(topic) {
            Some(decode_event(key, payload).map(Record::Event))
        } else {
            None
        }
    }

    /// Decodes a record of one of the topics into `batch`: one record, or every event of a
    /// history record in the `execution` format (its `content-type` names
    /// `quickstep.v1.ExecutionHistory` in JSON). Returns how many went in (0 for a tombstone or
    /// another topic).
    pub fn decode_into(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        content_type: Option<&str>,
        batch: &mut Vec<Record>,
    ) -> Result<usize, crate::record::DecodeError> {
        let is_execution = content_type.is_some_and(|value| {
            ContentType::parse(value).is_json_of(quickstep_proto::v1::ExecutionHistory::FULL_NAME)
        });
        match (payload, is_execution) {
            (Some(payload), true) if self.history.as_deref() == Some(topic) => {
                let events = decode_execution(key, payload)?;
                let count = events.len();
                batch.extend(events.into_iter().map(Record::Event));
                Ok(count)
            }
            _ => match self.decode(topic, key, payload) {
                Some(record) => {
                    batch.push(record?);
                    Ok(1)
                }
                None => Ok(0),
            },
        }
    }
}

/// A record's `content-type` header, if it has one in UTF-8.
fn content_type<M: Message>(message: &M) -> Option<&str> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|header| header.key.eq_ignore_ascii_case(CONTENT_TYPE_HEADER))
        .and_then(|header| std::str::from_utf8(header.value?).ok())
}

/// What the reader reports as it goes (the gateway turns it into metrics).
pub trait Observer: Send + Sync {
    /// A batch was written: this many results and history events.
    fn applied(&self, results: usize, events: usize);
    /// A record was skipped: it is not the JSON its topic carries (`result` or `history`).
    fn skipped(&self, kind: &'static str);
    /// A write of a batch of this many records failed (the store failed: a full disk); it
    /// is tried again.
    fn failed(&self, records: usize);
}

/// Reports nowhere.
impl Observer for () {
    fn applied(&self, _: usize, _: usize) {}
    fn skipped(&self, _: &'static str) {}
    fn failed(&self, _: usize) {}
}

/// Reads until `shutdown`. A malformed record is logged with its coordinates and skipped. A
/// batch the store cannot write (a full disk) is logged and tried again, with retention run
/// in between (it frees room only beyond its own limits: a disk filled by something else
/// waits for an operator, and the failures metric says so), until it is written: the records are Kafka's, so the
/// reader waits rather than drop them — before, a failed batch was dropped and those
/// executions were missing from the API until the gateway restarted. The API keeps
/// answering from what it has meanwhile. Only a panic drops the batch: it is a bug in the
/// batch's handling, which a retry would hit again.
pub async fn run<S: Sink>(
    store: Arc<S>,
    consumer: StreamConsumer,
    topics: Topics,
    observer: Arc<dyn Observer>,
    shutdown: CancellationToken,
) {
    let mut last_retention = Instant::now();
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => return,
            message = consumer.recv() => message,
            _ = tokio::time::sleep(RETENTION_EVERY) => {
                retain(&store).await;
                last_retention = Instant::now();
                continue;
            }
        };
        let mut batch = Vec::with_capacity(64);
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Ok(message) => {
                    match topics.decode_into(
                        message.topic(),
                        message.key(),
                        message.payload(),
                        content_type(&message),
                        &mut batch,
                    ) {
                        Ok(_) => {}
                        Err(error) => {
                            let crate::record::DecodeError::Malformed { kind, .. } = &error;
                            observer.skipped(kind);
                            tracing::warn!(
                                message = "Record skipped by the execution store.",
                                topic = message.topic(),
                                partition = message.partition(),
                                offset = message.offset(),
                                %error
                            )
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(message = "Execution store consumer error.", %error);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            if batch.len() < BATCH {
                next = tokio::time::timeout(LINGER, consumer.recv()).await.ok();
            }
        }
        if !batch.is_empty() {
            let results = batch
                .iter()
                .filter(|r| matches!(r, Record::Result(_)))
                .count();
            let (size, events) = (batch.len(), batch.len() - results);
            let batch = Arc::new(batch);
            let mut wait = RETRY_FIRST;
            loop {
                let (writer, records) = (store.clone(), batch.clone());
                match tokio::task::spawn_blocking(move || writer.apply(&records)).await {
                    Ok(Ok(())) => {
                        observer.applied(results, events);
                        break;
                    }
                    Ok(Err(error)) => {
                        observer.failed(size);
                        tracing::warn!(message = "Execution store write failed; trying again.", %error, records = size, retry_in = ?wait);
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(wait) => {}
                        }
                        retain(&store).await;
                        last_retention = Instant::now();
                        wait = (wait * 2).min(RETRY_MAX);
                    }
                    Err(error) => {
                        observer.failed(size);
                        tracing::error!(message = "Execution store write panicked; the batch is dropped.", %error, records = size);
                        break;
                    }
                }
            }
        }
        if last_retention.elapsed() >= RETENTION_EVERY {
            retain(&store).await;
            last_retention = Instant::now();
        }
    }
}

async fn retain<S: Sink>(store: &Arc<S>) {
    let store = store.clone();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    match tokio::task::spawn_blocking(move || store.enforce_retention(now_ms)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(deleted)) => tracing::debug!(message = "Execution store retention.", deleted),
        Ok(Err(error)) => tracing::warn!(message = "Execution store retention failed.", %error),
        Err(error) => tracing::warn!(message = "Execution store retention panicked.", %error),
    }
}

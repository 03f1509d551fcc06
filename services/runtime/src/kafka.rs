//! Kafka clients as every part of Quickstep builds them: the settings they share
//! (`KafkaSettings`: brokers, partitions of created topics, the user's librdkafka
//! overrides), the producer of results, history and start records, topic creation, the
//! registry reader, and the header names of the start-record contract.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The start-record header that names the state machine (name or ARN).
pub const HEADER_STATE_MACHINE: &str = "quickstep-state-machine";
/// The start-record header that gives the idempotency key (else the record key).
pub const HEADER_IDEMPOTENCY_KEY: &str = "quickstep-idempotency-key";
/// The start-record header that names the execution.
pub const HEADER_EXECUTION_NAME: &str = "quickstep-execution-name";
/// The W3C trace context header a start record (or an API call) carries.
pub const HEADER_TRACEPARENT: &str = "traceparent";

/// librdkafka's default `message.max.bytes`: the largest record a producer sends.
pub const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_000_000;

/// A librdkafka setting's value as a file or the environment writes it: librdkafka takes
/// text, so numbers and booleans are rendered back to text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KafkaValue {
    /// `"6000"`, `"earliest"`.
    Text(String),
    /// `6000`.
    Integer(i64),
    /// `0.5`.
    Float(f64),
    /// `true`.
    Bool(bool),
}

impl std::fmt::Display for KafkaValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KafkaValue::Text(text) => f.write_str(text),
            KafkaValue::Integer(n) => write!(f, "{n}"),
            KafkaValue::Float(x) => write!(f, "{x}"),
            KafkaValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// What every Kafka client of one process shares.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Names this process's private consumers (the registry reader's group id starts with it).
    pub client_group: String,
    /// The compacted topic of state machine revisions (created compacted).
    pub registry_topic: String,
    /// Partitions of topics created when missing.
    pub partitions: i32,
    /// The user's librdkafka settings, applied last.
    pub overrides: BTreeMap<String, KafkaValue>,
}

impl KafkaSettings {
    /// A client configuration with the brokers set and nothing else.
    pub fn client(&self) -> ClientConfig {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &self.brokers);
        client
    }

    /// The user's `kafka` settings go last, so they override Quickstep's defaults. Names may
    /// use `_` for `.` (environment variables cannot hold dots; librdkafka names have no `_`).
    pub fn with_overrides(&self, mut client: ClientConfig) -> ClientConfig {
        for (key, value) in &self.overrides {
            client.set(key.replace('_', "."), value.to_string());
        }
        client
    }

    /// The producer for results, history, dead letters, start records and the Kafka task:
    /// idempotent, acks=all, and no delivery timeout, so a broker outage delays records
    /// instead of losing them.
    pub fn producer(&self) -> Result<FutureProducer, KafkaError> {
        self.producer_config().create()
    }

    /// The settings of [`KafkaSettings::producer`], for producers with a context of their own
    /// (the history sink's, `sinks::HistoryProducer`).
    pub fn producer_config(&self) -> ClientConfig {
        let mut client = self.client();
        client
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "0")
            .set("linger.ms", "5");
        self.with_overrides(client)
    }

    /// The largest record the producers may send: the user's `message.max.bytes`, else
    /// librdkafka's default.
    pub fn max_message_bytes(&self) -> usize {
        self.overrides
            .iter()
            .find(|(key, _)| key.replace('_', ".") == "message.max.bytes")
            .and_then(|(_, value)| value.to_string().parse().ok())
            .unwrap_or(DEFAULT_MESSAGE_MAX_BYTES)
    }

    /// The exactly-once producer: transactional under `transactional_id` (stable per worker
    /// instance, so a restart fences what the previous run left open), idempotent, acks=all.
    /// Unlike [`KafkaSettings::producer`] its delivery timeout is finite: a record of a
    /// transaction must be acknowledged within the transaction's timeout (librdkafka refuses
    /// `message.timeout.ms` above `transaction.timeout.ms`), so a broker outage fails the
    /// open transaction, which is aborted and retried, instead of delaying it forever.
    /// `init_transactions` is left to the caller (it blocks on a broker round trip).
    pub fn transactional_producer(
        &self,
        transactional_id: &str,
        transaction_timeout_ms: u64,
    ) -> Result<FutureProducer, KafkaError> {
        let mut client = self.client();
        client
            .set("transactional.id", transactional_id)
            .set("transaction.timeout.ms", transaction_timeout_ms.to_string())
            .set("message.timeout.ms", transaction_timeout_ms.to_string())
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5");
        self.with_overrides(client).create()
    }

    /// Creates the topics that are missing (the registry topic compacted).
    pub async fn ensure_topics(&self, topics: &[&str]) -> Result<(), KafkaError> {
        let admin: AdminClient<DefaultClientContext> =
            self.with_overrides(self.client()).create()?;
        // Only missing topics are created: some clusters (librdkafka's mock) never answer
        // CreateTopics, and existing topics need no round trip.
        let metadata = admin
            .inner()
            .fetch_metadata(None, Duration::from_secs(10))?;
        let existing: Vec<&str> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| t.name())
            .collect();
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .filter(|t| !existing.contains(t))
            .map(|t| {
                let topic = NewTopic::new(t, self.partitions, TopicReplication::Fixed(1));
                // The registry keeps the last revision of every state machine forever.
                if *t == self.registry_topic {
                    topic.set("cleanup.policy", "compact")
                } else {
                    topic
                }
            })
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let results = admin.create_topics(&new, &AdminOptions::new()).await?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => return Err(KafkaError::AdminOp(code)).inspect_err(
                    |_| tracing::warn!(message = "Topic creation failed.", topic, error = %code),
                ),
            }
        }
        Ok(())
    }

    /// A consumer outside any group's assignment, assigned every partition of the registry
    /// topic from the beginning: every worker and gateway reads every revision.
    pub fn registry_consumer(&self) -> Result<StreamConsumer, KafkaError> {
        self.reader_from_beginning("registry", &[&self.registry_topic])
    }

    /// A consumer of its own (a group id unique to this process and `purpose`, nothing
    /// committed), assigned every partition of `topics` from the beginning: for readers that
    /// each need the whole topic (the registry follower, a gateway's execution store).
    /// Topics that do not exist yet are left out.
    pub fn reader_from_beginning(
        &self,
        purpose: &str,
        topics: &[&str],
    ) -> Result<StreamConsumer, KafkaError> {
        let mut client = self.client();
        client
            .set(
                "group.id",
                format!("{}-{purpose}-{}", self.client_group, std::process::id()),
            )
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            // Only committed transactions (librdkafka's default, stated because exactly-once
            // workers write these topics in transactions; records written without one are
            // read as before).
            .set("isolation.level", "read_committed");
        let consumer: StreamConsumer = self.with_overrides(client).create()?;
        let mut list = TopicPartitionList::new();
        for wanted in topics {
            let metadata = consumer.fetch_metadata(Some(wanted), Duration::from_secs(10))?;
            for topic in metadata.topics() {
                for partition in topic.partitions() {
                    list.add_partition_offset(topic.name(), partition.id(), Offset::Beginning)?;
                }
            }
        }
        consumer.assign(&list)?;
        Ok(consumer)
    }
}

/// Exactly-once: the gate between the writers of the open transaction (results, history,
/// dead letters, the Kafka task) and the commit that closes it. A writer holds a read guard
/// while it produces, the commit takes the write guard: no record is produced between a
/// transaction's commit and the next one's begin, and a commit never cuts one execution's
/// records in two. tokio's lock is fair, so a waiting commit holds new writers back and is
/// never starved. The producer sits here too, because a fenced or failed producer is
/// replaced (under the write guard) and every writer must use the current one.
pub struct TransactionGate {
    lock: tokio::sync::RwLock<()>,
    producer: std::sync::RwLock<FutureProducer>,
    task_writes: AtomicU64,
}

impl TransactionGate {
    /// A gate around `producer`, whose first transaction the caller has begun.
    pub fn new(producer: FutureProducer) -> Arc<TransactionGate> {
        Arc::new(TransactionGate {
            lock: tokio::sync::RwLock::new(()),
            producer: std::sync::RwLock::new(producer),
            task_writes: AtomicU64::new(0),
        })
    }

    /// Waits until the open transaction takes writes; produce with [`TransactionGate::producer`]
    /// while the guard lives.
    pub async fn enter(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.lock.read().await
    }

    /// Waits until no writer is inside, and keeps new ones out while the guard lives.
    pub async fn close(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.lock.write().await
    }

    /// The current producer (a cheap handle).
    pub fn producer(&self) -> FutureProducer {
        self.producer
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces a fenced or failed producer; call with the write guard held.
    pub fn replace(&self, producer: FutureProducer) {
        *self
            .producer
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = producer;
    }

    /// Counts a Kafka-task record in the open transaction.
    pub fn note_task_write(&self) {
        self.task_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// The Kafka-task records produced since the last call.
    pub fn take_task_writes(&self) -> u64 {
        self.task_writes.swap(0, Ordering::Relaxed)
    }
}

/// Where a writer gets its producer: a plain one, or the current one of a transaction gate
/// (whose guard the writer holds).
#[derive(Clone)]
pub enum ProducerHandle {
    /// At-least-once: one producer for the process's life.
    Plain(FutureProducer),
    /// Exactly-once: the gate's current producer.
    Transactional(Arc<TransactionGate>),
}

impl ProducerHandle {
    /// The producer to send with now.
    pub fn current(&self) -> FutureProducer {
        match self {
            ProducerHandle::Plain(producer) => producer.clone(),
            ProducerHandle::Transactional(gate) => gate.producer(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_go_last_and_take_underscores_for_dots() {
        let settings = KafkaSettings {
            brokers: "b:1".into(),
            client_group: "g".into(),
            registry_topic: "r".into(),
            partitions: 1,
            overrides: [
                ("session_timeout_ms".to_owned(), KafkaValue::Integer(6000)),
                (
                    "bootstrap.servers".to_owned(),
                    KafkaValue::Text("c:2".into()),
                ),
            ]
            .into(),
        };
        let client = settings.with_overrides(settings.client());
        assert_eq!(client.get("session.timeout.ms"), Some("6000"));
        assert_eq!(client.get("bootstrap.servers"), Some("c:2"));
    }
}

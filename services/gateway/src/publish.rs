//! Where the gateway's records go: Kafka (produce and await the broker's ack), or memory
//! for tests. One seam, so handlers never see rdkafka.
//!
//! The gateway produces with a producer of its own ([`KafkaPublisher::connect`]): idempotent
//! and acks=all like the worker's, with a linger of `produce_linger_ms` (1 ms, as the worker's
//! default profile). A StartExecution answers only after its own record is acknowledged, so
//! linger is latency every request pays; batches come from concurrency instead: records
//! enqueued while a produce request is in flight leave together in the next one (librdkafka
//! keeps up to five in flight per broker). Acknowledgements arrive on the producer's polling
//! thread, which completes each request's oneshot there: no task and no copy per record.
//! Records whose failure changes no answer (a sync execution's result) are only enqueued,
//! through a second producer that lingers `produce_enqueue_linger_ms` (5 ms, as the worker's
//! `throughput` profile):
//! nobody waits for them, so fuller batches cost no answer anything, and they cost the broker
//! and the execution store's reader less per record (fewer produce requests; each fetch
//! brings more records). Its polling thread logs the ones Kafka refuses.

use futures::future::{try_join_all, BoxFuture};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use runtime::kafka::KafkaSettings;
use runtime::sinks::{HistoryBatch, HistorySink, SinkError};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// One record to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The topic.
    pub topic: String,
    /// The key.
    pub key: String,
    /// The value; `None` is a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
}

/// Produces records, resolving once they are acknowledged.
pub trait Publisher: Send + Sync {
    /// Produces one record; the error is a message for an InternalFailure.
    fn publish(&self, record: Record) -> BoxFuture<'_, Result<(), String>>;

    /// Hands one record to the producer without waiting for its acknowledgement (only, when
    /// the producer's queue is full, for room in it); a record Kafka then refuses is logged.
    /// For records whose failure changes no answer: a sync execution's result.
    fn enqueue(&self, record: Record) -> BoxFuture<'_, Result<(), String>>;
}

/// What the producer's polling thread does with a record's delivery report.
enum Delivery {
    /// Hands it to the request waiting for it.
    Acknowledge(oneshot::Sender<Result<(), KafkaError>>),
    /// Nobody waits: a failure is logged.
    Log,
}

/// The producer's context: each delivery report completes its record's oneshot, or is
/// logged when it failed and nobody waits.
struct Acknowledgements;

impl ClientContext for Acknowledgements {}

impl ProducerContext for Acknowledgements {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        match (*delivery, result) {
            (Delivery::Acknowledge(waiting), _) => {
                // The request may have stopped waiting (its timeout, or its client left).
                let _ = waiting.send(result.as_ref().map(|_| ()).map_err(|(e, _)| e.clone()));
            }
            (Delivery::Log, Err((error, message))) => {
                let key = message.key().map(String::from_utf8_lossy);
                tracing::warn!(message = "A record was not written to Kafka.", topic = message.topic(), key = key.as_deref().unwrap_or(""), %error);
            }
            (Delivery::Log, Ok(_)) => {}
        }
    }
}

/// Publishes to Kafka with the gateway's producers (idempotent, acks=all): a short linger
/// for records a request waits for, a longer one for records nobody waits for.
pub struct KafkaPublisher {
    /// `publish`: each record's request waits for its acknowledgement.
    producer: ThreadedProducer<Acknowledgements>,
    /// `enqueue`: nobody waits; failures are logged.
    background: ThreadedProducer<Acknowledgements>,
    ack_timeout: Duration,
}

/// How long each of the gateway's producers waits to fill a batch (librdkafka's `linger.ms`).
#[derive(Debug, Clone, Copy)]
pub struct Lingers {
    /// Records a request waits for (`publish`).
    pub publish_ms: u64,
    /// Records nobody waits for (`enqueue`).
    pub enqueue_ms: u64,
}

/// How long a record waits before it is offered again when librdkafka's queue is full.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(5);

impl KafkaPublisher {
    /// The gateway's producers: idempotent and acks=all like the worker's, lingering as
    /// `lingers` says, and giving a record up after `ack_timeout` (librdkafka's
    /// `message.timeout.ms` too, so a record the request gave up on is not written later
    /// either). The user's `kafka` settings still go last.
    pub fn connect(
        settings: &KafkaSettings,
        lingers: Lingers,
        ack_timeout: Duration,
    ) -> Result<KafkaPublisher, KafkaError> {
        let producer = |linger_ms: u64| {
            let mut client = settings.client();
            client
                .set("enable.idempotence", "true")
                .set("acks", "all")
                .set("linger.ms", linger_ms.to_string())
                .set("message.timeout.ms", ack_timeout.as_millis().to_string());
            settings
                .with_overrides(client)
                .create_with_context(Acknowledgements)
        };
        Ok(KafkaPublisher {
            producer: producer(lingers.publish_ms)?,
            background: producer(lingers.enqueue_ms)?,
            ack_timeout,
        })
    }

    /// Puts `record` in `producer`'s queue, waiting for room until `deadline`.
    async fn send(
        producer: &ThreadedProducer<Acknowledgements>,
        record: &Record,
        delivery: Delivery,
        deadline: Instant,
    ) -> Result<(), String> {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut out: BaseRecord<'_, str, [u8], _> =
            BaseRecord::with_opaque_to(&record.topic, Box::new(delivery))
                .key(record.key.as_str())
                .headers(headers);
        if let Some(payload) = &record.payload {
            out = out.payload(payload.as_slice());
        }
        loop {
            match producer.send(out) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if Instant::now() < deadline =>
                {
                    out = back;
                    tokio::time::sleep(QUEUE_FULL_PAUSE).await;
                }
                Err((error, _)) => return Err(format!("Kafka did not accept the record: {error}")),
            }
        }
    }
}

impl Publisher for KafkaPublisher {
    fn publish(&self, record: Record) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.ack_timeout;
            let (acknowledged, acknowledgement) = oneshot::channel();
            Self::send(
                &self.producer,
                &record,
                Delivery::Acknowledge(acknowledged),
                deadline,
            )
            .await?;
            match tokio::time::timeout_at(deadline, acknowledgement).await {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(error))) => Err(format!("Kafka did not accept the record: {error}")),
                Ok(Err(_)) => Err("The producer stopped before the record was acknowledged".into()),
                Err(_) => Err("Kafka did not acknowledge the record in time".into()),
            }
        })
    }

    fn enqueue(&self, record: Record) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.ack_timeout;
            Self::send(&self.background, &record, Delivery::Log, deadline).await
        })
    }
}

/// Keeps records in memory (tests).
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    records: Mutex<Vec<Record>>,
}

impl MemoryPublisher {
    /// Every record so far.
    pub fn records(&self) -> Vec<Record> {
        self.records
            .lock()
            .expect("publisher lock is never poisoned")
            .clone()
    }
}

impl Publisher for MemoryPublisher {
    fn publish(&self, record: Record) -> BoxFuture<'_, Result<(), String>> {
        self.records
            .lock()
            .expect("publisher lock is never poisoned")
            .push(record);
        Box::pin(async { Ok(()) })
    }

    fn enqueue(&self, record: Record) -> BoxFuture<'_, Result<(), String>> {
        self.publish(record)
    }
}

/// The history of sync executions as records through a publisher: the shape and keys of the
/// worker's Kafka sink (`runtime::sinks::KafkaSink`), so every replica's execution store reads
/// sync executions as it reads async ones, and in-memory gateways record them too.
pub struct PublisherSink {
    publisher: Arc<dyn Publisher>,
    topic: String,
}

impl PublisherSink {
    /// A sink producing to `topic`.
    pub fn new(publisher: Arc<dyn Publisher>, topic: String) -> PublisherSink {
        PublisherSink { publisher, topic }
    }
}

impl HistorySink for PublisherSink {
    fn write<'a>(&'a self, batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            // Each record is the proto3 JSON of `quickstep.v1.HistoryEvent`, as the worker's
            // Kafka sink writes it. Every record is enqueued before any is awaited (join
            // polls them in order), and one key keeps them on one partition in order.
            let payloads = batch.json_records()?;
            let records = payloads.into_iter().map(|payload| {
                self.publisher.publish(Record {
                    topic: self.topic.clone(),
                    key: batch.execution_arn.to_owned(),
                    payload: Some(payload),
                    headers: Vec::new(),
                })
            });
            try_join_all(records).await.map_err(SinkError::Publish)?;
            Ok(())
        })
    }
}

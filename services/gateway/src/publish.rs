//! Where the gateway's records go: Kafka (produce and await the broker's ack), or memory
//! for tests. One seam, so handlers never see rdkafka.

use futures::future::{try_join_all, BoxFuture};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use runtime::sinks::{HistoryBatch, HistorySink, SinkError};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

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
}

/// Publishes to Kafka with the worker's producer settings (idempotent, acks=all).
pub struct KafkaPublisher {
    producer: FutureProducer,
}

impl KafkaPublisher {
    /// Wraps a producer.
    pub fn new(producer: FutureProducer) -> KafkaPublisher {
        KafkaPublisher { producer }
    }
}

/// How long a request waits for the broker before answering with an error.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

impl Publisher for KafkaPublisher {
    fn publish(&self, record: Record) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut headers = OwnedHeaders::new();
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            let mut out = FutureRecord::to(&record.topic)
                .key(&record.key)
                .headers(headers);
            if let Some(payload) = &record.payload {
                out = out.payload(payload);
            }
            match tokio::time::timeout(ACK_TIMEOUT, self.producer.send(out, ACK_TIMEOUT)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(format!("Kafka did not accept the record: {error}")),
                Err(_) => Err("Kafka did not acknowledge the record in time".into()),
            }
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

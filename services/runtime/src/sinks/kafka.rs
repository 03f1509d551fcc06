//! History as records on a Kafka topic, keyed by execution ARN so one execution's records stay
//! in order on one partition: one record per event (the default), or one per execution
//! ([`HistoryFormat::Execution`]).
//!
//! At-least-once, the sink has a producer of its own ([`HistoryProducer`]) whose delivery
//! callback counts an execution's records down: the sink enqueues them all and waits once,
//! for the last acknowledgement, instead of a delivery future per record (each of which
//! copies its record back out of librdkafka into an owned message). In exactly-once mode the
//! records go through the transaction's producer, a `FutureProducer`, as every write of the
//! transaction does.

use super::{Framing, HistoryBatch, HistoryFormat, HistorySink, SinkError};
use crate::kafka::ProducerHandle;
use futures::future::{try_join_all, BoxFuture};
use quickstep_proto::{CONTENT_TYPE_EXECUTION_HISTORY_JSON, CONTENT_TYPE_HEADER};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, FutureProducer, FutureRecord, Producer, ProducerContext,
    ThreadedProducer,
};
use rdkafka::util::Timeout;
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// What librdkafka adds to a record's key, value and headers when it checks the record
/// against `message.max.bytes` (a v2 record's largest framing), with room to spare.
const RECORD_OVERHEAD: usize = 64;

/// Produces history to a topic.
pub struct KafkaSink {
    producer: SinkProducer,
    topic: String,
    framing: Framing,
    /// The topic's partition count, when the sink places an execution's records itself: the
    /// key hashed once per execution rather than by librdkafka once per record.
    partitions: Option<i32>,
}

enum SinkProducer {
    /// At-least-once: the sink's own producer, one delivery count per execution.
    Counted(HistoryProducer),
    /// A `FutureProducer` (exactly-once's transaction, or a caller's).
    Future(ProducerHandle),
}

impl KafkaSink {
    /// A sink on `topic` through `producer`, one record per event.
    pub fn new(producer: FutureProducer, topic: String) -> KafkaSink {
        KafkaSink {
            producer: SinkProducer::Future(ProducerHandle::Plain(producer)),
            topic,
            framing: Framing::default(),
            partitions: None,
        }
    }

    /// A sink on `topic` through a history producer, one record per event. With the topic's
    /// partition count at hand (`HistoryProducer::partitions_of`) the sink places each
    /// execution's records itself, on the partition librdkafka's default partitioner would
    /// choose for the key.
    pub fn counted(producer: HistoryProducer, topic: String, partitions: Option<i32>) -> KafkaSink {
        KafkaSink {
            producer: SinkProducer::Counted(producer),
            topic,
            framing: Framing::default(),
            partitions,
        }
    }

    /// A sink on `topic` through a transaction gate's producer: its writer (the worker's
    /// emitter) holds the gate's guard while it writes.
    pub fn transactional(
        gate: std::sync::Arc<crate::kafka::TransactionGate>,
        topic: String,
    ) -> KafkaSink {
        KafkaSink {
            producer: SinkProducer::Future(ProducerHandle::Transactional(gate)),
            topic,
            framing: Framing::default(),
            partitions: None,
        }
    }

    /// The same sink, framing records as `framing` says.
    pub fn with_framing(mut self, framing: Framing) -> KafkaSink {
        self.framing = framing;
        self
    }
}

impl HistorySink for KafkaSink {
    fn write<'a>(&'a self, batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let key = batch.execution_arn;
            match self.framing.format {
                HistoryFormat::Events => {
                    // Each record is the proto3 JSON of `quickstep.v1.HistoryEvent`, all of
                    // them in one buffer.
                    let (buffer, ends) = batch.json_records_joined()?;
                    let buffer = buffer.as_slice();
                    let mut start = 0;
                    let payloads = ends.iter().map(move |&end| {
                        let payload = &buffer[start..end];
                        start = end;
                        payload
                    });
                    self.send(key, None, payloads).await
                }
                HistoryFormat::Execution => {
                    let header = (CONTENT_TYPE_HEADER, CONTENT_TYPE_EXECUTION_HISTORY_JSON);
                    let budget = self.framing.max_record_bytes.saturating_sub(
                        key.len() + header.0.len() + header.1.len() + RECORD_OVERHEAD,
                    );
                    let records = batch.execution_records(budget)?;
                    self.send(key, Some(header), records.iter().map(Vec::as_slice))
                        .await
                }
            }
        })
    }
}

impl KafkaSink {
    /// Enqueues every payload under `key` (with one header), then waits until all are
    /// acknowledged: librdkafka keeps per-partition order.
    async fn send(
        &self,
        key: &str,
        header: Option<(&str, &str)>,
        payloads: impl Iterator<Item = &[u8]>,
    ) -> Result<(), SinkError> {
        let headers = header.map(|(name, value)| {
            OwnedHeaders::new_with_capacity(1).insert(Header {
                key: name,
                value: Some(value),
            })
        });
        match &self.producer {
            SinkProducer::Counted(producer) => {
                let partition = self.partitions.map(|count| partition_of(key, count));
                Ok(producer
                    .send_all(&self.topic, partition, key, headers.as_ref(), payloads)
                    .await?)
            }
            SinkProducer::Future(handle) => {
                let producer = handle.current();
                let deliveries = payloads.map(|payload| {
                    let mut record = FutureRecord::to(&self.topic).key(key).payload(payload);
                    if let Some(headers) = &headers {
                        record = record.headers(headers.clone());
                    }
                    producer.send(record, Timeout::Never)
                });
                try_join_all(deliveries)
                    .await
                    .map_err(|(error, _)| SinkError::Kafka(error))?;
                Ok(())
            }
        }
    }
}

/// The records of one write in flight: their deliveries counted down, the first error kept.
struct Deliveries {
    /// Records not yet acknowledged, plus one while the writer is still enqueueing.
    remaining: AtomicUsize,
    error: Mutex<Option<KafkaError>>,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Deliveries {
    /// One record (or the writer's guard) settled; the last one wakes the writer.
    fn settle(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(done) = lock(&self.done).take() {
                // The writer may have gone (its write was dropped): nobody to tell.
                let _ = done.send(());
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The delivery callback of a [`HistoryProducer`]: counts down the write a record belongs to.
struct CountDeliveries;

impl ClientContext for CountDeliveries {}

impl ProducerContext for CountDeliveries {
    type DeliveryOpaque = Arc<Deliveries>;

    fn delivery(&self, result: &DeliveryResult<'_>, deliveries: Arc<Deliveries>) {
        if let Err((error, _)) = result {
            lock(&deliveries.error).get_or_insert_with(|| error.clone());
        }
        deliveries.settle();
    }
}

/// The history sink's producer (at-least-once): a librdkafka producer with a polling thread,
/// whose delivery reports count an execution's records down without copying them.
#[derive(Clone)]
pub struct HistoryProducer {
    producer: Arc<ThreadedProducer<CountDeliveries>>,
    /// Whether librdkafka's partitioner is its default (`consistent_random`): then the sink
    /// may pick the partition itself, once per execution, where librdkafka would put it.
    default_partitioner: bool,
}

impl HistoryProducer {
    /// A producer from `config` (the worker's producer settings).
    pub fn new(config: &ClientConfig) -> Result<HistoryProducer, KafkaError> {
        Ok(HistoryProducer {
            producer: Arc::new(config.create_with_context(CountDeliveries)?),
            default_partitioner: config
                .get("partitioner")
                .is_none_or(|p| p == "consistent_random" || p == "consistent"),
        })
    }

    /// The partition count of `topic`, when the sink may place records itself (the default
    /// partitioner, and the topic's metadata at hand); else None and librdkafka places each
    /// record. Blocks for a metadata round trip: call it when opening the sink.
    pub fn partitions_of(&self, topic: &str) -> Option<i32> {
        if !self.default_partitioner {
            return None;
        }
        let metadata = self
            .producer
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .inspect_err(|error| tracing::warn!(message = "History topic metadata unavailable; librdkafka places each record.", %error, topic))
            .ok()?;
        let count = metadata.topics().first()?.partitions().len();
        i32::try_from(count).ok().filter(|&n| n > 0)
    }

    /// Produces `payloads` to `topic` under `key`, in order; resolves once every one is
    /// acknowledged, or with the first error (enqueueing or delivering).
    pub async fn send_all(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: &str,
        headers: Option<&OwnedHeaders>,
        payloads: impl Iterator<Item = &[u8]>,
    ) -> Result<(), KafkaError> {
        let (done, acknowledged) = oneshot::channel();
        let deliveries = Arc::new(Deliveries {
            remaining: AtomicUsize::new(1),
            error: Mutex::new(None),
            done: Mutex::new(Some(done)),
        });
        for payload in payloads {
            deliveries.remaining.fetch_add(1, Ordering::AcqRel);
            let mut record = BaseRecord::with_opaque_to(topic, deliveries.clone())
                .key(key)
                .payload(payload);
            if let Some(headers) = headers {
                record = record.headers(headers.clone());
            }
            if let Some(partition) = partition {
                record = record.partition(partition);
            }
            let mut wait = Duration::from_millis(1);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    // The local queue is full: wait for deliveries to drain it, as
                    // `FutureProducer::send` does.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_millis(100));
                    }
                    Err((error, back)) => {
                        // Not enqueued: it will never be delivered, and the writer's guard
                        // goes with it. Records already enqueued settle on their own.
                        drop(back);
                        deliveries.settle();
                        deliveries.settle();
                        return Err(error);
                    }
                }
            }
        }
        deliveries.settle();
        // The sender lives in `deliveries` until the last record settles.
        let _ = acknowledged.await;
        let error = lock(&deliveries.error).take();
        error.map_or(Ok(()), Err)
    }
}

/// The partition librdkafka's default partitioner (`consistent_random`, for a non-empty key)
/// chooses: CRC-32 of the key modulo the partition count.
fn partition_of(key: &str, partitions: i32) -> i32 {
    // Positive: a partition count is at least 1.
    // librdkafka's `rd_crc32` is the IEEE CRC-32 that crc32fast computes.
    (crc32fast::hash(key.as_bytes()) % partitions.max(1).unsigned_abs()) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_goes_to_its_crc32_modulo_the_partition_count() {
        // The standard check value of CRC-32.
        assert_eq!(partition_of("123456789", 6), (0xCBF4_3926u32 % 6) as i32);
        assert_eq!(partition_of("anything", 1), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sink_places_each_key_where_librdkafka_would() {
        let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        mock.create_topic("placed", 6, 1).expect("topic");
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", mock.bootstrap_servers());
        let producer = HistoryProducer::new(&config).expect("producer");
        assert_eq!(producer.partitions_of("placed"), Some(6));
        let plain: FutureProducer = config.create().expect("producer");
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..24 {
            let key = format!("arn:aws:states:local:000000000000:express:orders:é-{i}");
            let partition = plain
                .send(
                    FutureRecord::to("placed").key(&key).payload("x"),
                    Timeout::Never,
                )
                .await
                .expect("produced")
                .partition;
            assert_eq!(partition_of(&key, 6), partition, "{key}");
            seen.insert(partition);
        }
        assert!(seen.len() > 3, "keys spread over partitions: {seen:?}");
        let mut other = config.clone();
        other.set("partitioner", "murmur2_random");
        let murmur = HistoryProducer::new(&other).expect("producer");
        assert_eq!(
            murmur.partitions_of("placed"),
            None,
            "another partitioner places records itself"
        );
    }
}

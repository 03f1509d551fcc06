//! History as records on a Kafka topic, one per event, keyed by execution ARN so one
//! execution's events stay in order on one partition.

use super::{HistoryBatch, HistorySink, SinkError};
use crate::kafka::ProducerHandle;
use futures::future::{try_join_all, BoxFuture};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

/// Produces history to a topic.
pub struct KafkaSink {
    producer: ProducerHandle,
    topic: String,
}

impl KafkaSink {
    /// A sink on `topic` through `producer`.
    pub fn new(producer: FutureProducer, topic: String) -> KafkaSink {
        KafkaSink {
            producer: ProducerHandle::Plain(producer),
            topic,
        }
    }

    /// A sink on `topic` through a transaction gate's producer: its writer (the worker's
    /// emitter) holds the gate's guard while it writes.
    pub fn transactional(
        gate: std::sync::Arc<crate::kafka::TransactionGate>,
        topic: String,
    ) -> KafkaSink {
        KafkaSink {
            producer: ProducerHandle::Transactional(gate),
            topic,
        }
    }
}

impl HistorySink for KafkaSink {
    fn write<'a>(&'a self, batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            // Each record is the proto3 JSON of `quickstep.v1.HistoryEvent`.
            let payloads = batch.json_records()?;
            // Enqueue all, then await all: librdkafka keeps per-partition order.
            let producer = self.producer.current();
            let deliveries = payloads.iter().map(|payload| {
                let record = FutureRecord::to(&self.topic)
                    .key(batch.execution_arn)
                    .payload(payload);
                producer.send(record, Timeout::Never)
            });
            try_join_all(deliveries)
                .await
                .map_err(|(error, _)| SinkError::Kafka(error))?;
            Ok(())
        })
    }
}

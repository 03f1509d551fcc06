//! History as records on a Kafka topic, one per event, keyed by execution ARN so one
//! execution's events stay in order on one partition.

use super::{HistoryBatch, HistorySink, SinkError};
use futures::future::{try_join_all, BoxFuture};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

/// Produces history to a topic.
pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
}

impl KafkaSink {
    /// A sink on `topic` through `producer`.
    pub fn new(producer: FutureProducer, topic: String) -> KafkaSink {
        KafkaSink { producer, topic }
    }
}

impl HistorySink for KafkaSink {
    fn write<'a>(&'a self, batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            // Each record is the proto3 JSON of `quickstep.v1.HistoryEvent`.
            let payloads = batch.json_records()?;
            // Enqueue all, then await all: librdkafka keeps per-partition order.
            let deliveries = payloads.iter().map(|payload| {
                let record = FutureRecord::to(&self.topic)
                    .key(batch.execution_arn)
                    .payload(payload);
                self.producer.send(record, Timeout::Never)
            });
            try_join_all(deliveries)
                .await
                .map_err(|(error, _)| SinkError::Kafka(error))?;
            Ok(())
        })
    }
}

//! History as records on a Kafka topic, one per event, keyed by execution ARN so one
//! execution's events stay in order on one partition.

use super::{log_record, HistorySink, SinkError};
use asl::history::HistoryEvent;
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
    fn write<'a>(
        &'a self,
        execution_arn: &'a str,
        events: &'a [HistoryEvent],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let payloads: Vec<Vec<u8>> = events
                .iter()
                .map(|e| {
                    serde_json::to_vec(&log_record(execution_arn, e))
                        .expect("a JSON value always renders")
                })
                .collect();
            // Enqueue all, then await all: librdkafka keeps per-partition order.
            let deliveries = payloads.iter().map(|payload| {
                let record = FutureRecord::to(&self.topic)
                    .key(execution_arn)
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

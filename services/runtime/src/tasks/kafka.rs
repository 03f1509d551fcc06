//! The Kafka task (`arn:aws:states:::quickstep:kafka.produce`, a Quickstep resource):
//! Parameters `{Topic, Key?, Headers?, Value}` produce one record through the worker's
//! producer; the task succeeds when the broker acknowledges it, with
//! `{Topic, Partition, Offset}`. A string Value is sent as its text, anything else as JSON
//! text; Headers is an object of strings. A refused record fails the task with
//! `Kafka.ProduceFailed` (no retries underneath: Retry is the state machine's). In an
//! exactly-once worker the record is produced inside the worker's open transaction (through
//! its [`TransactionGate`]): a `read_committed` reader sees it once that transaction commits,
//! never when it aborts.

use super::RateLimits;
use crate::kafka::TransactionGate;
use asl::{ErrorName, StatesError, TaskRequest};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use serde_json::{json, Value};
use std::sync::Arc;

/// The Kafka task.
pub struct KafkaTask {
    producer: FutureProducer,
    limits: Arc<RateLimits>,
    transactions: Option<Arc<TransactionGate>>,
}

impl KafkaTask {
    pub(crate) fn new(producer: FutureProducer, limits: Arc<RateLimits>) -> KafkaTask {
        KafkaTask {
            producer,
            limits,
            transactions: None,
        }
    }

    /// Produces inside the gate's transactions from now on.
    pub(crate) fn set_transactions(&mut self, gate: Arc<TransactionGate>) {
        self.transactions = Some(gate);
    }

    pub(crate) async fn produce(&self, request: &TaskRequest<'_>) -> Result<Value, StatesError> {
        let input = &request.input;
        let topic = input
            .get("Topic")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| StatesError::runtime("The field 'Topic' is required"))?;
        let key = match input.get("Key") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => Some(other.to_string()),
        };
        let value = match input.get("Value") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => Some(other.to_string()),
        };
        let mut headers = OwnedHeaders::new();
        match input.get("Headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    let text = match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    headers = headers.insert(Header {
                        key: name,
                        value: Some(text.as_bytes()),
                    });
                }
            }
            Some(_) => return Err(StatesError::runtime("Headers must be an object")),
        }
        headers = headers.insert(Header {
            key: "traceparent",
            value: Some(super::trace::outgoing().as_bytes()),
        });
        self.limits.wait(&format!("kafka:{topic}")).await;
        let mut record: FutureRecord<'_, String, String> = FutureRecord::to(topic).headers(headers);
        if let Some(key) = &key {
            record = record.key(key);
        }
        if let Some(value) = &value {
            record = record.payload(value);
        }
        let sent = match &self.transactions {
            None => self
                .producer
                .send(record, Timeout::Never)
                .await
                .map_err(|(error, _)| error),
            Some(gate) => produce_in_transaction(gate, record).await,
        };
        match sent {
            Ok(delivery) => Ok(json!({
                "Topic": topic,
                "Partition": delivery.partition,
                "Offset": delivery.offset,
            })),
            Err(error) => Err(StatesError::new(
                ErrorName::Custom("Kafka.ProduceFailed".into()),
                format!("The record for the topic '{topic}' was not acknowledged: {error}"),
            )),
        }
    }
}

/// Enqueues `record` while the gate's transaction is open, then waits for its acknowledgement
/// outside the guard, so a commit never waits on a task's round trip (it flushes what was
/// enqueued anyway). A full local queue is waited out with the guard released.
async fn produce_in_transaction(
    gate: &TransactionGate,
    mut record: FutureRecord<'_, String, String>,
) -> Result<rdkafka::producer::future_producer::Delivery, rdkafka::error::KafkaError> {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    let delivery = loop {
        let enqueued = {
            let _open = gate.enter().await;
            gate.note_task_write();
            gate.producer().send_result(record)
        };
        match enqueued {
            Ok(delivery) => break delivery,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err((error, _)) => return Err(error),
        }
    };
    match delivery.await {
        Ok(delivered) => delivered.map_err(|(error, _)| error),
        Err(_) => Err(KafkaError::Canceled),
    }
}

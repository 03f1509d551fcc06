//! The Kafka task (`arn:aws:states:::quickstep:kafka.produce`, a Quickstep resource):
//! Parameters `{Topic, Key?, Headers?, Value}` produce one record through the worker's
//! producer; the task succeeds when the broker acknowledges it, with
//! `{Topic, Partition, Offset}`. A string Value is sent as its text, anything else as JSON
//! text; Headers is an object of strings. A refused record fails the task with
//! `Kafka.ProduceFailed` (no retries underneath: Retry is the state machine's).

use super::RateLimits;
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
}

impl KafkaTask {
    pub(crate) fn new(producer: FutureProducer, limits: Arc<RateLimits>) -> KafkaTask {
        KafkaTask { producer, limits }
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
        match self.producer.send(record, Timeout::Never).await {
            Ok(delivery) => Ok(json!({
                "Topic": topic,
                "Partition": delivery.partition,
                "Offset": delivery.offset,
            })),
            Err((error, _)) => Err(StatesError::new(
                ErrorName::Custom("Kafka.ProduceFailed".into()),
                format!("The record for the topic '{topic}' was not acknowledged: {error}"),
            )),
        }
    }
}

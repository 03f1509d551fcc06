//! History sinks: where an execution's history events go — stdout (JSON lines), a file, or a
//! Kafka topic — in the shape of Step Functions' CloudWatch log events for Express. A sink
//! acknowledges a batch only once it is written, so it counts toward "finished".

mod file;
mod kafka;
mod stdout;

pub use file::FileSink;
pub use kafka::KafkaSink;
pub use stdout::StdoutSink;

use asl::history::HistoryEvent;
use futures::future::BoxFuture;
use quickstep_proto::v1;
use rdkafka::producer::FutureProducer;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Which sink the configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistorySinkKind {
    /// No history is exported.
    Off,
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to a file.
    File(std::path::PathBuf),
    /// One record per event on a topic, keyed by execution ARN.
    Kafka(String),
}

impl HistorySinkKind {
    /// Parses `off`, `stdout`, `file:PATH` or `kafka:TOPIC`.
    pub fn parse(text: &str) -> Result<HistorySinkKind, String> {
        match text {
            "off" => Ok(HistorySinkKind::Off),
            "stdout" => Ok(HistorySinkKind::Stdout),
            _ => match text.split_once(':') {
                Some(("file", path)) if !path.is_empty() => Ok(HistorySinkKind::File(path.into())),
                Some(("kafka", topic)) if !topic.is_empty() => {
                    Ok(HistorySinkKind::Kafka(topic.into()))
                }
                _ => Err(format!(
                    "history must be off, stdout, file:PATH or kafka:TOPIC, not '{text}'"
                )),
            },
        }
    }

    /// Opens the sink (none for `Off`); a Kafka sink produces with `producer`.
    pub async fn open(
        self,
        producer: &FutureProducer,
    ) -> Result<Option<Arc<dyn HistorySink>>, SinkError> {
        Ok(match self {
            HistorySinkKind::Off => None,
            HistorySinkKind::Stdout => Some(Arc::new(StdoutSink)),
            HistorySinkKind::File(path) => Some(Arc::new(FileSink::open(&path).await?)),
            HistorySinkKind::Kafka(topic) => {
                Some(Arc::new(KafkaSink::new(producer.clone(), topic)))
            }
        })
    }
}

impl HistorySinkKind {
    /// As [`HistorySinkKind::open`], a Kafka sink writing into the gate's transactions.
    pub async fn open_transactional(
        self,
        gate: &Arc<crate::kafka::TransactionGate>,
    ) -> Result<Option<Arc<dyn HistorySink>>, SinkError> {
        match self {
            HistorySinkKind::Kafka(topic) => Ok(Some(Arc::new(KafkaSink::transactional(
                gate.clone(),
                topic,
            )))),
            other => other.open(&gate.producer()).await,
        }
    }
}

/// Why a sink could not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing to a file or stdout failed.
    #[error("writing history: {0}")]
    Io(#[from] std::io::Error),
    /// Kafka did not acknowledge a record.
    #[error("producing history: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// An event could not be encoded (a number JSON cannot hold).
    #[error("encoding history: {0}")]
    Encode(#[from] quickstep_proto::Error),
    /// A publisher (the gateway's) did not take a record.
    #[error("producing history: {0}")]
    Publish(String),
}

/// The history of one run of one execution.
#[derive(Debug, Clone, Copy)]
pub struct HistoryBatch<'a> {
    /// The execution's ARN.
    pub execution_arn: &'a str,
    /// Which run of the execution, from 1 (`ExecutionRequest::attempt`).
    pub attempt: u32,
    /// Its events, in order.
    pub events: &'a [HistoryEvent],
}

impl HistoryBatch<'_> {
    /// Each event as its wire record, proto3 JSON encoded.
    pub fn json_records(&self) -> Result<Vec<Vec<u8>>, SinkError> {
        self.events
            .iter()
            .map(|event| Ok(log_record(self.execution_arn, self.attempt, event).to_json_bytes()?))
            .collect()
    }

    /// The records as JSON lines.
    fn json_lines(&self) -> Result<Vec<u8>, SinkError> {
        let mut out = Vec::new();
        for record in self.json_records()? {
            out.extend_from_slice(&record);
            out.push(b'\n');
        }
        Ok(out)
    }
}

/// Takes the history of one execution at a time.
pub trait HistorySink: Send + Sync {
    /// Writes the events in order; resolves once they are durable for this sink.
    fn write<'a>(&'a self, batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>>;
}

/// The wire record of one event (`quickstep.v1.HistoryEvent`, proto/quickstep/v1/history.proto):
/// AWS's CloudWatch log event for Express — `{id, previous_event_id, event_timestamp, type,
/// execution_arn, details}` — plus the run's `attempt`. As AWS logs them, `input`, `output`
/// and a task's `parameters` in the details are JSON text, and `input`/`output` come with their
/// `inputDetails`/`outputDetails` (`truncated`: never, a record holds the whole payload).
pub fn log_record(execution_arn: &str, attempt: u32, event: &HistoryEvent) -> v1::HistoryEvent {
    let mut details = match &event.details {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        other => Map::from_iter([("value".to_owned(), other.clone())]),
    };
    for key in ["input", "output", "parameters"] {
        if let Some(value) = details.get_mut(key) {
            *value = Value::String(value.to_string());
            if key != "parameters" {
                details.insert(format!("{key}Details"), json!({"truncated": false}));
            }
        }
    }
    v1::HistoryEvent {
        id: event.id as i64,
        previous_event_id: Some(event.previous_event_id as i64),
        event_timestamp: event.event_timestamp_ms,
        r#type: event.event_type.as_str().to_owned(),
        execution_arn: execution_arn.to_owned(),
        details: Some(details.into()),
        attempt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asl::history::HistoryEventType;

    #[test]
    fn parses_every_kind() {
        assert_eq!(HistorySinkKind::parse("off"), Ok(HistorySinkKind::Off));
        assert_eq!(
            HistorySinkKind::parse("stdout"),
            Ok(HistorySinkKind::Stdout)
        );
        assert_eq!(
            HistorySinkKind::parse("file:/tmp/h.log"),
            Ok(HistorySinkKind::File("/tmp/h.log".into()))
        );
        assert_eq!(
            HistorySinkKind::parse("kafka:history"),
            Ok(HistorySinkKind::Kafka("history".into()))
        );
        assert!(HistorySinkKind::parse("kafka:").is_err());
        assert!(HistorySinkKind::parse("s3:bucket").is_err());
    }

    #[test]
    fn log_records_are_the_proto_message_in_the_aws_shape() {
        let event = HistoryEvent {
            id: 2,
            previous_event_id: 0,
            event_timestamp_ms: 1_700_000_000_000,
            event_type: HistoryEventType::PassStateEntered,
            details: json!({"name": "A", "input": {"k": [1, "x"]}}),
        };
        let record = log_record("arn:x", 3, &event);
        let bytes = record.to_json_bytes().expect("encodes");
        // The record is the proto3 JSON of `quickstep.v1.HistoryEvent`: it reads back as one.
        assert_eq!(
            v1::HistoryEvent::from_json_bytes(&bytes).expect("decodes"),
            record
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).expect("JSON"),
            json!({"id": "2", "previous_event_id": "0", "event_timestamp": "1700000000000",
                   "type": "PassStateEntered", "execution_arn": "arn:x",
                   "details": {"name": "A", "input": "{\"k\":[1,\"x\"]}",
                               "inputDetails": {"truncated": false}},
                   "attempt": 3})
        );
        let batch = HistoryBatch {
            execution_arn: "arn:x",
            attempt: 1,
            events: &[event.clone(), event],
        };
        let lines = batch.json_lines().expect("encodes");
        assert_eq!(lines.iter().filter(|b| **b == b'\n').count(), 2);
    }

    #[test]
    fn task_parameters_are_json_text_without_details() {
        let event = HistoryEvent {
            id: 3,
            previous_event_id: 2,
            event_timestamp_ms: 0,
            event_type: HistoryEventType::TaskScheduled,
            details: json!({"resource": "r", "parameters": "text"}),
        };
        let record = serde_json::to_value(log_record("arn:x", 1, &event)).expect("JSON");
        assert_eq!(
            record["details"],
            json!({"resource": "r", "parameters": "\"text\""})
        );
    }
}

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
use rdkafka::producer::FutureProducer;
use serde_json::{json, Value};
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

/// Why a sink could not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing to a file or stdout failed.
    #[error("writing history: {0}")]
    Io(#[from] std::io::Error),
    /// Kafka did not acknowledge a record.
    #[error("producing history: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A publisher (the gateway's) did not take a record.
    #[error("producing history: {0}")]
    Publish(String),
}

/// Takes the history of one execution at a time.
pub trait HistorySink: Send + Sync {
    /// Writes the events in order; resolves once they are durable for this sink.
    fn write<'a>(
        &'a self,
        execution_arn: &'a str,
        events: &'a [HistoryEvent],
    ) -> BoxFuture<'a, Result<(), SinkError>>;
}

/// The log record of one event: `{id, previous_event_id, event_timestamp, type,
/// execution_arn, details}`, with the timestamp in epoch milliseconds as text, as AWS logs it.
pub fn log_record(execution_arn: &str, event: &HistoryEvent) -> Value {
    json!({
        "id": event.id.to_string(),
        "previous_event_id": event.previous_event_id.to_string(),
        "event_timestamp": event.event_timestamp_ms.to_string(),
        "type": event.event_type.as_str(),
        "execution_arn": execution_arn,
        "details": event.details,
    })
}

/// Renders a batch as JSON lines.
fn json_lines(execution_arn: &str, events: &[HistoryEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        serde_json::to_writer(&mut out, &log_record(execution_arn, event))
            .expect("a JSON value always renders");
        out.push(b'\n');
    }
    out
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
    fn log_records_have_the_aws_shape() {
        let event = HistoryEvent {
            id: 2,
            previous_event_id: 1,
            event_timestamp_ms: 1_700_000_000_000,
            event_type: HistoryEventType::PassStateEntered,
            details: json!({"name": "A"}),
        };
        let record = log_record("arn:x", &event);
        assert_eq!(
            record,
            json!({"id": "2", "previous_event_id": "1", "event_timestamp": "1700000000000",
                   "type": "PassStateEntered", "execution_arn": "arn:x", "details": {"name": "A"}})
        );
        assert_eq!(
            json_lines("arn:x", &[event.clone(), event])
                .iter()
                .filter(|b| **b == b'\n')
                .count(),
            2
        );
    }
}

//! History sinks: where an execution's history events go — stdout (JSON lines), a file, or a
//! Kafka topic — in the shape of Step Functions' CloudWatch log events for Express. A sink
//! acknowledges a batch only once it is written, so it counts toward "finished".

mod encode;
mod file;
mod kafka;
mod stdout;

pub use file::FileSink;
pub use kafka::{HistoryProducer, KafkaSink};
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
    /// Records on a topic, keyed by execution ARN: one per event, or one per execution
    /// ([`HistoryFormat`]).
    Kafka(String),
}

/// How a Kafka sink frames an execution's history (`--history-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HistoryFormat {
    /// One record per event, each a `quickstep.v1.HistoryEvent` in AWS's log event shape.
    #[default]
    Events,
    /// One record per execution, a `quickstep.v1.ExecutionHistory` holding all its events
    /// (split into consecutive records only when they do not fit in one).
    Execution,
}

impl HistoryFormat {
    /// Parses `events` or `execution`.
    pub fn parse(text: &str) -> Result<HistoryFormat, String> {
        match text {
            "events" => Ok(HistoryFormat::Events),
            "execution" => Ok(HistoryFormat::Execution),
            _ => Err(format!(
                "history_format must be events or execution, not '{text}'"
            )),
        }
    }

    /// The configuration's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryFormat::Events => "events",
            HistoryFormat::Execution => "execution",
        }
    }
}

/// How a Kafka sink writes: the framing, and the largest record the producer may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// One record per event or per execution.
    pub format: HistoryFormat,
    /// The producer's `message.max.bytes` (librdkafka's default: 1,000,000): an execution
    /// record larger than this is split.
    pub max_record_bytes: usize,
}

impl Default for Framing {
    fn default() -> Framing {
        Framing {
            format: HistoryFormat::Events,
            max_record_bytes: crate::kafka::DEFAULT_MESSAGE_MAX_BYTES,
        }
    }
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

    /// Opens the sink (none for `Off`); a Kafka sink produces with `producer`, one record
    /// per event.
    pub async fn open(
        self,
        producer: &FutureProducer,
    ) -> Result<Option<Arc<dyn HistorySink>>, SinkError> {
        Ok(match self {
            HistorySinkKind::Kafka(topic) => {
                Some(Arc::new(KafkaSink::new(producer.clone(), topic)))
            }
            other => other.open_local().await?,
        })
    }

    /// Opens the sink (none for `Off`); a Kafka sink produces with `producer` (its own, that
    /// accounts for an execution's records together), framed as `framing` says.
    pub async fn open_counted(
        self,
        producer: &HistoryProducer,
        framing: Framing,
    ) -> Result<Option<Arc<dyn HistorySink>>, SinkError> {
        Ok(match self {
            HistorySinkKind::Kafka(topic) => {
                let partitions = producer.partitions_of(&topic);
                Some(Arc::new(
                    KafkaSink::counted(producer.clone(), topic, partitions).with_framing(framing),
                ))
            }
            other => other.open_local().await?,
        })
    }

    /// The sinks that need no producer.
    async fn open_local(self) -> Result<Option<Arc<dyn HistorySink>>, SinkError> {
        Ok(match self {
            HistorySinkKind::Off | HistorySinkKind::Kafka(_) => None,
            HistorySinkKind::Stdout => Some(Arc::new(StdoutSink)),
            HistorySinkKind::File(path) => Some(Arc::new(FileSink::open(&path).await?)),
        })
    }
}

impl HistorySinkKind {
    /// As [`HistorySinkKind::open`], a Kafka sink writing into the gate's transactions.
    pub async fn open_transactional(
        self,
        gate: &Arc<crate::kafka::TransactionGate>,
        framing: Framing,
    ) -> Result<Option<Arc<dyn HistorySink>>, SinkError> {
        match self {
            HistorySinkKind::Kafka(topic) => Ok(Some(Arc::new(
                KafkaSink::transactional(gate.clone(), topic).with_framing(framing),
            ))),
            other => other.open_local().await,
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
    /// One event's record is larger than the largest record the producer may send, so no
    /// framing can carry it.
    #[error("history event {event_id} of {execution_arn} takes {bytes} bytes in its record, more than the producer's message.max.bytes ({max_bytes})")]
    TooLarge {
        /// The execution.
        execution_arn: String,
        /// The event's id.
        event_id: u64,
        /// Its record's size.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
}

impl SinkError {
    /// Whether writing the same batch again must fail again: an event too large for any
    /// record, or one that cannot be encoded. A writer retries the others; these it reports
    /// and passes, so one execution's history never holds up its partition.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SinkError::TooLarge { .. } | SinkError::Encode(_))
    }
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
    /// Each event as its wire record, proto3 JSON encoded: the bytes of
    /// `log_record(…).to_json_bytes()`, written directly.
    pub fn json_records(&self) -> Result<Vec<Vec<u8>>, SinkError> {
        let mut writer = encode::RecordWriter::new(self.execution_arn, self.attempt)?;
        self.events
            .iter()
            .map(|event| {
                let mut out = Vec::with_capacity(256);
                writer.event(&mut out, event)?;
                Ok(out)
            })
            .collect()
    }

    /// Every event's record in one buffer, each ending at the offset `ends` holds (one
    /// allocation for the whole execution: a Kafka sink sends slices of it).
    pub fn json_records_joined(&self) -> Result<(Vec<u8>, Vec<usize>), SinkError> {
        let mut writer = encode::RecordWriter::new(self.execution_arn, self.attempt)?;
        let mut out = Vec::with_capacity(256 * self.events.len());
        let mut ends = Vec::with_capacity(self.events.len());
        for event in self.events {
            writer.event(&mut out, event)?;
            ends.push(out.len());
        }
        Ok((out, ends))
    }

    /// The `execution` format: the events in `quickstep.v1.ExecutionHistory` records (proto3
    /// JSON), as few as fit in `max_bytes` each — one, unless the history is larger than a
    /// record may be; then each record holds the next consecutive events. An event whose
    /// record alone exceeds `max_bytes` is [`SinkError::TooLarge`]: the history is not
    /// written in part, nor silently dropped.
    pub fn execution_records(&self, max_bytes: usize) -> Result<Vec<Vec<u8>>, SinkError> {
        let mut writer = encode::RecordWriter::new(self.execution_arn, self.attempt)?;
        let mut head = Vec::new();
        writer.execution_start(&mut head);
        // The closing `]}`.
        const END: usize = 2;
        let too_large = |event: &HistoryEvent, bytes: usize| SinkError::TooLarge {
            execution_arn: self.execution_arn.to_owned(),
            event_id: event.id,
            bytes,
            max_bytes,
        };
        let mut records = Vec::new();
        let mut current = Vec::with_capacity((head.len() + 256 * self.events.len()).min(max_bytes));
        current.extend_from_slice(&head);
        let mut count = 0;
        for event in self.events {
            let mark = current.len();
            if count > 0 {
                current.push(b',');
            }
            writer.event(&mut current, event)?;
            if current.len() + END <= max_bytes {
                count += 1;
                continue;
            }
            // Does not fit: the event starts the next record, alone if it must.
            let start = if count > 0 { mark + 1 } else { mark };
            let tail = current.split_off(start);
            if head.len() + tail.len() + END > max_bytes {
                return Err(too_large(event, head.len() + tail.len() + END));
            }
            if count > 0 {
                current.truncate(mark);
                encode::RecordWriter::execution_end(&mut current);
                records.push(std::mem::take(&mut current));
            }
            current.clear();
            current.extend_from_slice(&head);
            current.extend_from_slice(&tail);
            count = 1;
        }
        if count > 0 {
            encode::RecordWriter::execution_end(&mut current);
            records.push(current);
        }
        Ok(records)
    }

    /// The records as JSON lines.
    fn json_lines(&self) -> Result<Vec<u8>, SinkError> {
        let mut writer = encode::RecordWriter::new(self.execution_arn, self.attempt)?;
        let mut out = Vec::with_capacity(256 * self.events.len());
        for event in self.events {
            writer.event(&mut out, event)?;
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

    /// A history with what the encoder must get right: every details shape (object, null, a
    /// bare value), `input`/`output`/`parameters` of every JSON type, details that already
    /// hold `inputDetails`/`outputDetails`, key order, odd characters (quotes, backslashes,
    /// control characters, DEL, non-ASCII, U+2028, emoji) in names, values and the ARN,
    /// floats and large integers, ids and timestamps of 0.
    fn varied_history() -> Vec<HistoryEvent> {
        use HistoryEventType::*;
        let odd = "q\"b\\s/\u{1}\t\n\r\u{7f}é中\u{2028}😀";
        let event = |id: u64, event_type, details: Value| HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            event_timestamp_ms: 1_700_000_000_000 + id as i64,
            event_type,
            details,
        };
        vec![
            event(
                1,
                ExecutionStarted,
                json!({"input": {"order": odd, "n": [1, 2.5, -0.0, 1e300, u64::MAX, i64::MIN]}, "roleArn": "arn:r"}),
            ),
            event(2, PassStateEntered, json!({"name": odd, "input": odd})),
            event(3, PassStateExited, json!({"name": "A", "output": null})),
            event(
                4,
                TaskStateEntered,
                json!({"inputDetails": {"truncated": true}, "name": "T", "input": [], "z": 1}),
            ),
            event(
                5,
                TaskScheduled,
                json!({"resource": "r", "parameters": {"k": odd}, "region": "us-east-1"}),
            ),
            event(
                6,
                TaskSucceeded,
                json!({"output": true, "outputDetails": "kept in place", "resource": "r"}),
            ),
            event(7, ChoiceStateEntered, Value::Null),
            event(8, ChoiceStateExited, json!(odd)),
            event(9, WaitStateEntered, json!(42)),
            event(10, MapIterationStarted, json!({"index": 0, "name": "M"})),
            event(11, ExecutionFailed, json!({"error": odd, "cause": ""})),
            event(
                12,
                ExecutionSucceeded,
                json!({"output": {"a": {"b": [{}]}}, "input": 0.1}),
            ),
            HistoryEvent {
                id: 0,
                previous_event_id: 0,
                event_timestamp_ms: 0,
                event_type: FailStateEntered,
                details: json!({}),
            },
        ]
    }

    #[test]
    fn the_encoder_writes_the_bytes_of_the_proto_message() {
        let events = varied_history();
        for (arn, attempt) in [
            (
                "arn:aws:states:us-east-1:123456789012:express:orders:o\"dd\\é:1",
                2,
            ),
            ("arn:x", 1),
            ("", 0),
        ] {
            let batch = HistoryBatch {
                execution_arn: arn,
                attempt,
                events: &events,
            };
            let records = batch.json_records().expect("encodes");
            let (joined, ends) = batch.json_records_joined().expect("encodes");
            let lines = batch.json_lines().expect("encodes");
            let mut start = 0;
            let mut expected_lines = Vec::new();
            for ((event, record), end) in events.iter().zip(&records).zip(&ends) {
                let expected = log_record(arn, attempt, event)
                    .to_json_bytes()
                    .expect("encodes");
                assert_eq!(
                    String::from_utf8_lossy(record),
                    String::from_utf8_lossy(&expected),
                    "event {} of {arn:?}",
                    event.id
                );
                assert_eq!(&joined[start..*end], expected.as_slice());
                start = *end;
                expected_lines.extend_from_slice(&expected);
                expected_lines.push(b'\n');
            }
            assert_eq!(joined.len(), start);
            assert_eq!(lines, expected_lines);
        }
    }

    #[test]
    fn an_execution_record_is_the_proto_message_holding_every_event_record() {
        let events = varied_history();
        let arn = "arn:aws:states:local:000000000000:express:orders:é\"1";
        let batch = HistoryBatch {
            execution_arn: arn,
            attempt: 2,
            events: &events,
        };
        let records = batch.execution_records(1_000_000).expect("encodes");
        assert_eq!(records.len(), 1, "one record per execution");
        let decoded = v1::ExecutionHistory::from_json_bytes(&records[0]).expect("decodes");
        let expected = v1::ExecutionHistory {
            execution_arn: arn.to_owned(),
            attempt: 2,
            events: events.iter().map(|e| log_record(arn, 2, e)).collect(),
        };
        assert_eq!(decoded, expected);
        // Byte for byte the message's own proto3 JSON, and each event the per-event record.
        assert_eq!(
            String::from_utf8_lossy(&records[0]),
            String::from_utf8_lossy(&expected.to_json_bytes().expect("encodes"))
        );
        let value: Value = serde_json::from_slice(&records[0]).expect("JSON");
        for (item, record) in value["events"]
            .as_array()
            .expect("events")
            .iter()
            .zip(batch.json_records().expect("encodes"))
        {
            assert_eq!(
                item,
                &serde_json::from_slice::<Value>(&record).expect("JSON")
            );
        }
    }

    #[test]
    fn an_execution_larger_than_a_record_splits_into_consecutive_records_that_fit() {
        let events = varied_history();
        let arn = "arn:x";
        let batch = HistoryBatch {
            execution_arn: arn,
            attempt: 1,
            events: &events,
        };
        let whole = batch
            .execution_records(usize::MAX)
            .expect("encodes")
            .remove(0);
        let largest = batch
            .json_records()
            .expect("encodes")
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        // Room for the largest event alone, so every record holds at least one.
        let max = largest + 64;
        assert!(whole.len() > max, "the test history must not fit");
        let records = batch.execution_records(max).expect("encodes");
        assert!(records.len() > 1, "split");
        let mut seen = Vec::new();
        for record in &records {
            assert!(record.len() <= max, "{} > {max}", record.len());
            let part = v1::ExecutionHistory::from_json_bytes(record).expect("each part decodes");
            assert_eq!((part.execution_arn.as_str(), part.attempt), (arn, 1));
            assert!(!part.events.is_empty());
            seen.extend(part.events);
        }
        let expected: Vec<v1::HistoryEvent> =
            events.iter().map(|e| log_record(arn, 1, e)).collect();
        assert_eq!(seen, expected, "every event once, in order");
    }

    #[test]
    fn an_event_too_large_for_any_record_is_an_error_not_a_drop() {
        let mut events = varied_history();
        events[3].details = json!({"name": "T", "input": "x".repeat(5000)});
        let batch = HistoryBatch {
            execution_arn: "arn:x",
            attempt: 1,
            events: &events,
        };
        match batch.execution_records(2000) {
            Err(SinkError::TooLarge {
                execution_arn,
                event_id,
                bytes,
                max_bytes,
            }) => {
                assert_eq!(
                    (execution_arn.as_str(), event_id, max_bytes),
                    ("arn:x", 4, 2000)
                );
                assert!(bytes > 5000, "{bytes}");
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        // The first event too.
        let first = HistoryBatch {
            execution_arn: "arn:x",
            attempt: 1,
            events: &events[3..],
        };
        assert!(matches!(
            first.execution_records(2000),
            Err(SinkError::TooLarge { event_id: 4, .. })
        ));
        let message = batch
            .execution_records(2000)
            .expect_err("too large")
            .to_string();
        assert!(message.contains("message.max.bytes"), "{message}");
    }

    #[test]
    fn formats_parse() {
        assert_eq!(HistoryFormat::parse("events"), Ok(HistoryFormat::Events));
        assert_eq!(
            HistoryFormat::parse("execution"),
            Ok(HistoryFormat::Execution)
        );
        assert!(HistoryFormat::parse("Execution").is_err());
        assert_eq!(HistoryFormat::default().as_str(), "events");
        assert_eq!(HistoryFormat::Execution.as_str(), "execution");
    }
}

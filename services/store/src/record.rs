//! The two records the store reads, decoded leniently: result records (proto3 JSON of
//! `quickstep.v1.ExecutionResult`, through the proto crate) and history records (the log shape
//! of `sinks::log_record`, one event a record, or a `quickstep.v1.ExecutionHistory` holding an
//! execution's events). Unknown fields are ignored, so newer writers (an `attempt` field,
//! say) never stop an older store; a malformed record is a `DecodeError`, never a panic.

use quickstep_proto::v1::execution_result::Status as WireStatus;
use quickstep_proto::v1::ExecutionResult;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// An execution's status as the API names it (`ExecutionStatus`). RUNNING is an execution
/// whose history has been seen but whose result has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// History seen, no result yet.
    Running,
    /// Ended in a Succeed or End state.
    Succeeded,
    /// Failed (or could not run).
    Failed,
    /// Ran past its timeout.
    TimedOut,
    /// Stopped (never written by Quickstep today; AWS names it).
    Aborted,
}

/// Each status with its AWS spelling and its code in the database: the one table.
const STATUSES: &[(Status, &str, i64)] = &[
    (Status::Running, "RUNNING", 0),
    (Status::Succeeded, "SUCCEEDED", 1),
    (Status::Failed, "FAILED", 2),
    (Status::TimedOut, "TIMED_OUT", 3),
    (Status::Aborted, "ABORTED", 4),
];

impl Status {
    /// Every status, in the order of their codes.
    pub fn all() -> impl Iterator<Item = Status> {
        STATUSES.iter().map(|s| s.0)
    }

    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        STATUSES
            .iter()
            .find(|s| s.0 == self)
            .map_or("RUNNING", |s| s.1)
    }

    /// Reads AWS's spelling.
    pub fn parse(text: &str) -> Option<Status> {
        STATUSES.iter().find(|s| s.1 == text).map(|s| s.0)
    }

    /// The integer the database keeps (smaller indexes than text).
    pub fn code(self) -> i64 {
        STATUSES.iter().find(|s| s.0 == self).map_or(0, |s| s.2)
    }

    /// The status of a stored code; unknown codes read as RUNNING.
    pub fn from_code(code: i64) -> Status {
        STATUSES
            .iter()
            .find(|s| s.2 == code)
            .map_or(Status::Running, |s| s.0)
    }
}

/// Why a record was skipped.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not the JSON the record's schema describes.
    #[error("malformed {kind} record: {message}")]
    Malformed {
        /// `result` or `history`.
        kind: &'static str,
        /// What was wrong.
        message: String,
    },
}

fn malformed(kind: &'static str, message: impl ToString) -> DecodeError {
    DecodeError::Malformed {
        kind,
        message: message.to_string(),
    }
}

/// Where a start record was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// One decoded result record.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    /// The execution.
    pub execution_arn: String,
    /// Its state machine (derived from the execution ARN when the record has none).
    pub state_machine_arn: String,
    /// The execution name.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// Epoch milliseconds.
    pub start_ms: i64,
    /// Epoch milliseconds.
    pub stop_ms: i64,
    /// Output JSON text (SUCCEEDED).
    pub output: Option<String>,
    /// Error name.
    pub error: Option<String>,
    /// Error cause.
    pub cause: Option<String>,
    /// Billed duration, ms.
    pub billed_duration_ms: i64,
    /// Billed memory, MB.
    pub billed_memory_mb: i64,
    /// The idempotency key (absent when empty).
    pub idempotency_key: Option<String>,
    /// The start record (absent for sync executions).
    pub source: Option<SourceRef>,
}

/// Decodes a result record.
pub fn decode_result(payload: &[u8]) -> Result<ResultRecord, DecodeError> {
    let wire = ExecutionResult::from_json_bytes(payload).map_err(|e| malformed("result", e))?;
    if wire.execution_arn.is_empty() {
        return Err(malformed("result", "no executionArn"));
    }
    let status = match WireStatus::try_from(wire.status) {
        Ok(WireStatus::Succeeded) => Status::Succeeded,
        Ok(WireStatus::Failed) => Status::Failed,
        Ok(WireStatus::TimedOut) => Status::TimedOut,
        _ => return Err(malformed("result", format!("status {}", wire.status))),
    };
    let ms = |t: Option<quickstep_proto::wkt::Timestamp>| {
        t.map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos / 1_000_000))
    };
    let state_machine_arn = if wire.state_machine_arn.is_empty() {
        state_machine_of(&wire.execution_arn).unwrap_or_default()
    } else {
        wire.state_machine_arn
    };
    let billing = wire.billing_details.unwrap_or_default();
    Ok(ResultRecord {
        state_machine_arn,
        name: wire.name,
        status,
        start_ms: ms(wire.start_date),
        stop_ms: ms(wire.stop_date),
        output: wire.output,
        error: wire.error,
        cause: wire.cause,
        billed_duration_ms: i64::from(billing.billed_duration_in_milliseconds),
        billed_memory_mb: i64::from(billing.billed_memory_used_in_mb),
        idempotency_key: Some(wire.idempotency_key).filter(|k| !k.is_empty()),
        source: wire
            .source
            .filter(|s| !s.topic.is_empty())
            .map(|s| SourceRef {
                topic: s.topic,
                partition: s.partition,
                offset: s.offset,
            }),
        execution_arn: wire.execution_arn,
    })
}

/// One decoded history record.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// The execution it belongs to.
    pub execution_arn: String,
    /// 1-based id.
    pub id: i64,
    /// The event it follows.
    pub previous_event_id: i64,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    /// AWS's event type name (kept as text: new AWS types need no change here).
    pub event_type: String,
    /// The details object as JSON text (`{}` when absent).
    pub details: String,
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(deserialize_with = "integer")]
    id: i64,
    #[serde(default, deserialize_with = "integer")]
    previous_event_id: i64,
    #[serde(deserialize_with = "integer")]
    event_timestamp: i64,
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    #[serde(default, borrow)]
    execution_arn: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    details: Option<&'a RawValue>,
}

/// Decodes a history record; `key` (the execution ARN the sink keys it by) stands in when the
/// record names no execution.
pub fn decode_event(key: Option<&[u8]>, payload: &[u8]) -> Result<EventRecord, DecodeError> {
    let wire: WireEvent<'_> =
        serde_json::from_slice(payload).map_err(|e| malformed("history", e))?;
    event_record(wire, None, key)
}

#[derive(Deserialize)]
struct WireExecution<'a> {
    #[serde(default, borrow)]
    execution_arn: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    events: Vec<WireEvent<'a>>,
}

/// Decodes a history record in the `execution` format (`quickstep.v1.ExecutionHistory`, named
/// by its `content-type` header): each of its events as [`decode_event`] reads one. An event
/// that names no execution takes the record's, then the key.
pub fn decode_execution(
    key: Option<&[u8]>,
    payload: &[u8],
) -> Result<Vec<EventRecord>, DecodeError> {
    let wire: WireExecution<'_> =
        serde_json::from_slice(payload).map_err(|e| malformed("history", e))?;
    let execution_arn = wire.execution_arn.as_deref().filter(|arn| !arn.is_empty());
    wire.events
        .into_iter()
        .map(|event| event_record(event, execution_arn, key))
        .collect()
}

/// An event, its execution from the event, else `fallback`, else the record's key.
fn event_record(
    wire: WireEvent<'_>,
    fallback: Option<&str>,
    key: Option<&[u8]>,
) -> Result<EventRecord, DecodeError> {
    let execution_arn = match wire.execution_arn {
        Some(arn) if !arn.is_empty() => arn.into_owned(),
        _ => fallback
            .or_else(|| key.and_then(|k| std::str::from_utf8(k).ok()))
            .filter(|k| !k.is_empty())
            .ok_or_else(|| malformed("history", "no execution_arn and no key"))?
            .to_owned(),
    };
    Ok(EventRecord {
        execution_arn,
        id: wire.id,
        previous_event_id: wire.previous_event_id,
        timestamp_ms: wire.event_timestamp,
        event_type: wire.event_type.into_owned(),
        details: wire
            .details
            .map_or_else(|| "{}".to_owned(), |d| d.get().to_owned()),
    })
}

/// proto3 JSON writes 64-bit integers as strings; AWS's logs do too; readers take both.
fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Integer;
    impl Visitor<'_> for Integer {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer or a decimal string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(E::custom)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.parse().map_err(E::custom)
        }
    }
    deserializer.deserialize_any(Integer)
}

/// The state machine ARN of an Express execution ARN
/// (`arn:aws:states:R:A:express:MACHINE:NAME[:ID]` → `arn:aws:states:R:A:stateMachine:MACHINE`).
pub fn state_machine_of(execution_arn: &str) -> Option<String> {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    if parts.len() < 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "express" {
        return None;
    }
    Some(format!(
        "arn:{}:states:{}:{}:stateMachine:{}",
        parts[1], parts[3], parts[4], parts[6]
    ))
}

/// The execution name of an Express execution ARN.
pub fn name_of(execution_arn: &str) -> Option<&str> {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    (parts.len() >= 8 && parts[5] == "express").then(|| parts[7])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:states:local:000000000000:express:order:n1";

    #[test]
    fn results_decode_with_unknown_fields_and_string_offsets() {
        let payload = br#"{"executionArn": "arn:aws:states:local:000000000000:express:order:n1",
            "stateMachineArn": "arn:aws:states:local:000000000000:stateMachine:order",
            "name": "n1", "status": "FAILED", "startDate": "2024-05-01T12:00:00.123Z",
            "stopDate": "2024-05-01T12:00:01Z", "error": "States.TaskFailed", "cause": "boom",
            "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 900},
            "idempotencyKey": "k1", "source": {"topic": "quickstep.start", "partition": 2, "offset": "42"},
            "somethingNew": [1, 2]}"#;
        let record = decode_result(payload).expect("decodes");
        assert_eq!(record.status, Status::Failed);
        assert_eq!(record.start_ms, 1_714_564_800_123);
        assert_eq!(record.stop_ms, 1_714_564_801_000);
        assert_eq!(record.error.as_deref(), Some("States.TaskFailed"));
        assert_eq!(record.idempotency_key.as_deref(), Some("k1"));
        assert_eq!(record.billed_duration_ms, 900);
        assert_eq!(
            record.source,
            Some(SourceRef {
                topic: "quickstep.start".into(),
                partition: 2,
                offset: 42
            })
        );
    }

    #[test]
    fn bad_results_are_errors() {
        assert!(decode_result(b"not json").is_err());
        assert!(
            decode_result(br#"{"status": "SUCCEEDED"}"#).is_err(),
            "no ARN"
        );
        let unspecified = format!(r#"{{"executionArn": "{ARN}"}}"#);
        assert!(decode_result(unspecified.as_bytes()).is_err(), "no status");
    }

    #[test]
    fn a_result_without_a_state_machine_takes_it_from_the_arn() {
        let payload =
            format!(r#"{{"executionArn": "{ARN}", "status": "SUCCEEDED", "name": "n1"}}"#);
        let record = decode_result(payload.as_bytes()).expect("decodes");
        assert_eq!(
            record.state_machine_arn,
            "arn:aws:states:local:000000000000:stateMachine:order"
        );
        assert_eq!(record.idempotency_key, None);
        assert_eq!(record.source, None);
    }

    #[test]
    fn events_decode_strings_numbers_and_extra_fields() {
        let payload = format!(
            r#"{{"id": "3", "previous_event_id": 2, "event_timestamp": "1700000000000",
                "type": "TaskStateEntered", "execution_arn": "{ARN}", "attempt": 2,
                "details": {{"name": "Charge", "input": "{{}}"}}}}"#
        );
        let event = decode_event(None, payload.as_bytes()).expect("decodes");
        assert_eq!((event.id, event.previous_event_id), (3, 2));
        assert_eq!(event.timestamp_ms, 1_700_000_000_000);
        assert_eq!(event.event_type, "TaskStateEntered");
        let details: serde_json::Value = serde_json::from_str(&event.details).expect("JSON");
        assert_eq!(details["name"], "Charge");
    }

    #[test]
    fn an_event_without_an_arn_takes_the_key_and_bad_events_are_errors() {
        let payload = br#"{"id": 1, "event_timestamp": 5, "type": "ExecutionStarted"}"#;
        let event = decode_event(Some(ARN.as_bytes()), payload).expect("decodes");
        assert_eq!(event.execution_arn, ARN);
        assert_eq!(event.details, "{}");
        assert!(decode_event(None, payload).is_err(), "no ARN anywhere");
        assert!(decode_event(None, br#"{"id": "x", "event_timestamp": 5, "type": "A"}"#).is_err());
        assert!(decode_event(None, b"[]").is_err());
    }

    #[test]
    fn execution_records_decode_each_event_and_bad_ones_are_errors() {
        let payload = format!(
            r#"{{"execution_arn": "{ARN}", "attempt": 1, "events": [
                {{"id": "1", "previous_event_id": "0", "event_timestamp": "5", "type": "ExecutionStarted", "execution_arn": "{ARN}", "details": {{}}}},
                {{"id": "2", "previous_event_id": "1", "event_timestamp": "6", "type": "PassStateEntered", "details": {{"name": "A"}}}}],
                "somethingNew": true}}"#
        );
        let events = decode_execution(None, payload.as_bytes()).expect("decodes");
        assert_eq!(events.len(), 2);
        assert_eq!((events[1].id, events[1].previous_event_id), (2, 1));
        assert_eq!(events[1].execution_arn, ARN, "the record's ARN stands in");
        assert_eq!(events[1].details, r#"{"name": "A"}"#);
        let keyed = br#"{"events": [{"id": 1, "event_timestamp": 5, "type": "ExecutionStarted"}]}"#;
        let events = decode_execution(Some(ARN.as_bytes()), keyed).expect("decodes");
        assert_eq!(events[0].execution_arn, ARN, "then the key");
        assert!(decode_execution(None, keyed).is_err(), "no ARN anywhere");
        assert!(decode_execution(None, br#"{"events": [{"id": "x"}]}"#).is_err());
        assert!(decode_execution(None, br#"{"events": {}}"#).is_err());
        assert!(decode_execution(None, b"not json").is_err());
    }

    #[test]
    fn arns_split_into_machine_and_name() {
        assert_eq!(
            state_machine_of(ARN).as_deref(),
            Some("arn:aws:states:local:000000000000:stateMachine:order")
        );
        assert_eq!(name_of(ARN), Some("n1"));
        assert_eq!(state_machine_of("arn:aws:states:r:a:stateMachine:x"), None);
        assert_eq!(name_of("nonsense"), None);
    }

    #[test]
    fn statuses_round_trip() {
        for (status, text, code) in STATUSES {
            assert_eq!(Status::parse(text), Some(*status));
            assert_eq!(Status::from_code(*code), *status);
            assert_eq!(status.as_str(), *text);
        }
        assert_eq!(Status::parse("PENDING"), None);
    }
}

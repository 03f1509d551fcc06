//! The wire contract: proto3 JSON and binary forms of every record.

use quickstep_proto::v1::{
    execution_result::Status, BillingDetails, ExecutionResult, HistoryEvent, Source, StartExecution,
};
use quickstep_proto::wkt::{Struct, Timestamp};
use quickstep_proto::{ContentType, Error, CONTENT_TYPE_START_EXECUTION};
use serde_json::{json, Value};

fn sample_result() -> ExecutionResult {
    ExecutionResult {
        execution_arn: "arn:aws:states:us-east-1:123456789012:express:orders:order-42:6f1c".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:orders".into(),
        name: "order-42".into(),
        status: Status::Succeeded as i32,
        start_date: Some(Timestamp::from_unix_millis(1_714_564_800_123)),
        stop_date: Some(Timestamp::from_unix_millis(1_714_564_800_456)),
        output: Some(r#"{"total":42}"#.into()),
        error: None,
        cause: None,
        billing_details: Some(BillingDetails {
            billed_memory_used_in_mb: 64,
            billed_duration_in_milliseconds: 400,
        }),
        idempotency_key: "order-42".into(),
        source: Some(Source {
            topic: "quickstep.start".into(),
            partition: 3,
            offset: 9_007_199_254_740_993,
        }),
    }
}

fn sample_history() -> HistoryEvent {
    let details = json!({"name": "Charge", "input": "{\"total\":42}", "inputDetails": {"truncated": false}, "index": 0, "ratio": 0.5});
    HistoryEvent {
        id: 1,
        previous_event_id: Some(0),
        event_timestamp: 1_714_564_800_123,
        r#type: "TaskStateEntered".into(),
        execution_arn: "arn:aws:states:us-east-1:123456789012:express:orders:order-42:6f1c".into(),
        details: Some(Struct::try_from(details).unwrap()),
        attempt: 2,
    }
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn result_json_follows_proto3_mapping() {
    let bytes = sample_result().to_json_bytes().unwrap();
    println!("{}", String::from_utf8_lossy(&bytes));
    assert_eq!(
        json_of(&bytes),
        json!({
            "executionArn": "arn:aws:states:us-east-1:123456789012:express:orders:order-42:6f1c",
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:orders",
            "name": "order-42",
            "status": "SUCCEEDED",
            "startDate": "2024-05-01T12:00:00.123Z",
            "stopDate": "2024-05-01T12:00:00.456Z",
            "output": "{\"total\":42}",
            "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 400},
            "idempotencyKey": "order-42",
            // int64: a string in proto3 JSON (this one is past 2^53, where a double would lie).
            "source": {"topic": "quickstep.start", "partition": 3, "offset": "9007199254740993"}
        })
    );
    // Field order follows the .proto.
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with(r#"{"executionArn":"#), "{text}");
}

#[test]
fn failed_result_has_error_and_cause_and_no_output() {
    let result = ExecutionResult {
        status: Status::Failed as i32,
        output: None,
        error: Some("States.TaskFailed".into()),
        cause: Some(String::new()),
        ..sample_result()
    };
    let value = json_of(&result.to_json_bytes().unwrap());
    assert_eq!(value["status"], "FAILED");
    assert_eq!(value["error"], "States.TaskFailed");
    // Explicit presence: an empty cause still renders, an absent output does not.
    assert_eq!(value["cause"], "");
    assert!(value.get("output").is_none());
    let back = ExecutionResult::from_json_bytes(&result.to_json_bytes().unwrap()).unwrap();
    assert_eq!(back, result);
}

#[test]
fn timed_out_and_defaults() {
    let result = ExecutionResult {
        status: Status::TimedOut as i32,
        ..Default::default()
    };
    assert_eq!(
        json_of(&result.to_json_bytes().unwrap()),
        json!({"status": "TIMED_OUT"})
    );
    // proto3 JSON leaves out fields that hold their default.
    assert_eq!(ExecutionResult::default().to_json_bytes().unwrap(), b"{}");
}

#[test]
fn json_round_trips() {
    let result = sample_result();
    assert_eq!(
        ExecutionResult::from_json_bytes(&result.to_json_bytes().unwrap()).unwrap(),
        result
    );
    let event = sample_history();
    assert_eq!(
        HistoryEvent::from_json_bytes(&event.to_json_bytes().unwrap()).unwrap(),
        event
    );
    let start = StartExecution {
        state_machine: "orders".into(),
        name: Some("order-42".into()),
        input: r#"{"total": 42}"#.into(),
        idempotency_key: "order-42".into(),
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        tracestate: "vendor=opaque".into(),
    };
    let bytes = start.to_json_bytes().unwrap();
    assert_eq!(
        json_of(&bytes),
        json!({
            "stateMachine": "orders",
            "name": "order-42",
            "input": "{\"total\": 42}",
            "idempotencyKey": "order-42",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tracestate": "vendor=opaque"
        })
    );
    assert_eq!(StartExecution::from_json_bytes(&bytes).unwrap(), start);
}

#[test]
fn binary_round_trips() {
    let result = sample_result();
    let bytes = result.to_protobuf_bytes();
    assert_eq!(
        ExecutionResult::from_protobuf_bytes(&bytes).unwrap(),
        result
    );

    let event = sample_history();
    let back = HistoryEvent::from_protobuf_bytes(&event.to_protobuf_bytes()).unwrap();
    assert_eq!(back, event);
    // Struct keeps key order and integers through the binary form's doubles.
    assert_eq!(
        back.to_json_bytes().unwrap(),
        event.to_json_bytes().unwrap()
    );

    let start = StartExecution {
        state_machine: "arn:aws:states:us-east-1:123456789012:stateMachine:orders".into(),
        input: "[1,2,3]".into(),
        ..Default::default()
    };
    assert_eq!(
        StartExecution::from_protobuf_bytes(&start.to_protobuf_bytes()).unwrap(),
        start
    );
    assert_eq!(StartExecution::CONTENT_TYPE, CONTENT_TYPE_START_EXECUTION);
}

#[test]
fn history_json_has_aws_cloudwatch_shape() {
    let text = String::from_utf8(sample_history().to_json_bytes().unwrap()).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"id":"1","previous_event_id":"0","event_timestamp":"1714564800123","#,
            r#""type":"TaskStateEntered","#,
            r#""execution_arn":"arn:aws:states:us-east-1:123456789012:express:orders:order-42:6f1c","#,
            r#""details":{"name":"Charge","input":"{\"total\":42}","inputDetails":{"truncated":false},"index":0,"ratio":0.5},"#,
            r#""attempt":2}"#
        )
    );
}

/// `attempt` came after fields 1–6: a record without it (written before it existed) still
/// reads, as attempt 0, which readers take as the first run; and adding it appends to the
/// binary form without changing the bytes of the older fields.
#[test]
fn history_attempt_is_an_addition() {
    let mut first = sample_history();
    first.attempt = 0;
    let older_json = first.to_json_bytes().unwrap();
    assert!(!json_of(&older_json)
        .as_object()
        .unwrap()
        .contains_key("attempt"));
    assert_eq!(
        HistoryEvent::from_json_bytes(&older_json).unwrap().attempt,
        0
    );
    let older_binary = first.to_protobuf_bytes();
    assert_eq!(
        HistoryEvent::from_protobuf_bytes(&older_binary)
            .unwrap()
            .attempt,
        0
    );
    let second = sample_history();
    let newer_binary = second.to_protobuf_bytes();
    assert!(newer_binary.starts_with(&older_binary));
    assert_eq!(
        HistoryEvent::from_protobuf_bytes(&newer_binary)
            .unwrap()
            .attempt,
        2
    );
    assert!(HistoryEvent::from_json_bytes(br#"{"attempt": -1}"#).is_err());
}

#[test]
fn readers_accept_proto_names_and_numbers_for_int64() {
    let result = ExecutionResult::from_json_bytes(
        br#"{"execution_arn": "a", "status": "FAILED", "source": {"offset": 7, "partition": "2"},
            "billingDetails": {"billed_memory_used_in_mb": 128}}"#,
    )
    .unwrap();
    assert_eq!(result.execution_arn, "a");
    assert_eq!(result.status(), Status::Failed);
    let source = result.source.unwrap();
    assert_eq!((source.partition, source.offset), (2, 7));
    assert_eq!(
        result.billing_details.unwrap().billed_memory_used_in_mb,
        128
    );

    // The history event's JSON names are AWS's snake_case ones (its json_name equals the
    // field name), so camelCase keys are unknown fields there, and ignored.
    let event = HistoryEvent::from_json_bytes(
        br#"{"id": 2, "previous_event_id": "1", "event_timestamp": 5, "executionArn": "x"}"#,
    )
    .unwrap();
    assert_eq!(
        (event.id, event.previous_event_id, event.event_timestamp),
        (2, Some(1), 5)
    );
    assert_eq!(event.execution_arn, "");
}

#[test]
fn unknown_json_fields_are_ignored() {
    let start = StartExecution::from_json_bytes(
        br#"{"stateMachine": "orders", "futureField": {"a": [1]}, "input": "{}"}"#,
    )
    .unwrap();
    assert_eq!(start.state_machine, "orders");
    assert_eq!(start.input, "{}");
    assert!(ExecutionResult::from_json_bytes(br#"{"newThing": 1}"#).is_ok());
}

#[test]
fn timestamps_render_canonically_and_accept_offsets() {
    let render = |ts: Timestamp| serde_json::to_string(&ts).unwrap();
    assert_eq!(
        render(Timestamp {
            seconds: 0,
            nanos: 0
        }),
        r#""1970-01-01T00:00:00Z""#
    );
    assert_eq!(
        render(Timestamp {
            seconds: 1,
            nanos: 1_000
        }),
        r#""1970-01-01T00:00:01.000001Z""#
    );
    assert_eq!(
        render(Timestamp::from_unix_millis(-1)),
        r#""1969-12-31T23:59:59.999Z""#
    );
    let ts: Timestamp = serde_json::from_str(r#""2024-05-01T14:00:00.5+02:00""#).unwrap();
    assert_eq!(ts.unix_millis(), 1_714_564_800_500);
    let now = std::time::SystemTime::now();
    assert_eq!(std::time::SystemTime::from(Timestamp::from(now)), now);
    // Out of range cannot render.
    let bad = ExecutionResult {
        start_date: Some(Timestamp {
            seconds: 0,
            nanos: -1,
        }),
        ..Default::default()
    };
    assert!(matches!(bad.to_json_bytes(), Err(Error::JsonEncode { .. })));
}

#[test]
fn malformed_json_is_an_error() {
    for bad in [
        &b""[..],
        b"not json",
        b"{\"stateMachine\": 5}",
        b"{\"name\": null, \"input\": [1]}",
        b"[]",
        b"{\"stateMachine\": \"a\"} trailing",
        b"{\"stateMachine\": \"a\"",
    ] {
        let err = StartExecution::from_json_bytes(bad).unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{bad:?}");
        assert!(
            err.to_string().contains("quickstep.v1.StartExecution"),
            "{err}"
        );
    }
    for bad in [
        &br#"{"status": "RUNNING"}"#[..],
        br#"{"startDate": "yesterday"}"#,
        br#"{"startDate": 1714564800}"#,
        br#"{"source": {"offset": "12x"}}"#,
        br#"{"source": {"partition": 1.5}}"#,
    ] {
        assert!(ExecutionResult::from_json_bytes(bad).is_err(), "{bad:?}");
    }
    // details must be an object.
    assert!(HistoryEvent::from_json_bytes(br#"{"details": "text"}"#).is_err());
}

#[test]
fn malformed_protobuf_is_an_error() {
    let bytes = sample_result().to_protobuf_bytes();
    let err = ExecutionResult::from_protobuf_bytes(&bytes[..bytes.len() - 3]).unwrap_err();
    assert!(matches!(err, Error::Protobuf { .. }));
    // Field 1 (a string) sent as a varint; a length past the end; a bare tag.
    for bad in [
        &[0x08u8, 0x01][..],
        &[0x0a, 0x05, b'a'],
        &[0x0a],
        &[0xff, 0xff],
    ] {
        assert!(StartExecution::from_protobuf_bytes(bad).is_err(), "{bad:?}");
    }
    // A JSON value is not protobuf either.
    assert!(StartExecution::from_protobuf_bytes(br#"{"stateMachine":"orders"}"#).is_err());
}

#[test]
fn unknown_protobuf_fields_are_skipped() {
    let mut bytes = StartExecution {
        state_machine: "orders".into(),
        ..Default::default()
    }
    .to_protobuf_bytes();
    // Field 99, varint 1: from a newer producer.
    bytes.extend_from_slice(&[0x98, 0x06, 0x01]);
    assert_eq!(
        StartExecution::from_protobuf_bytes(&bytes)
            .unwrap()
            .state_machine,
        "orders"
    );
}

#[test]
fn content_type_names_the_envelope() {
    let ct = ContentType::parse(CONTENT_TYPE_START_EXECUTION);
    assert!(ct.is_protobuf_of(StartExecution::FULL_NAME));
    let ct =
        ContentType::parse(r#"Application/X-Protobuf ; messagetype="quickstep.v1.StartExecution""#);
    assert!(ct.is_protobuf_of(StartExecution::FULL_NAME));
    assert!(!ContentType::parse("application/json").is_protobuf_of(StartExecution::FULL_NAME));
    assert!(
        ContentType::parse(quickstep_proto::CONTENT_TYPE_START_EXECUTION_JSON)
            .is_json_of(StartExecution::FULL_NAME)
    );
    assert!(!ContentType::parse("application/x-protobuf").is_protobuf_of("x"));
}

#[test]
fn descriptor_set_is_embedded() {
    let fds = quickstep_proto::FILE_DESCRIPTOR_SET;
    assert!(!fds.is_empty());
    let text = String::from_utf8_lossy(fds);
    for name in [
        "quickstep/v1/start.proto",
        "quickstep/v1/result.proto",
        "quickstep/v1/history.proto",
        "google/protobuf/timestamp.proto",
    ] {
        assert!(text.contains(name), "{name}");
    }
}

/// `to_json_bytes` encodes with sonic-rs for speed; what it writes must be byte for byte what
/// serde_json writes from the same `Serialize` impls — escapes, unicode and numbers included.
#[test]
fn json_encoding_is_serde_json_s_byte_for_byte() {
    let awkward = "quote \" backslash \\ slash / nul \u{0} unit \u{1f} del \u{7f} \
                   tab \t newline \n é \u{2028}\u{2029} 😀 日本";
    let mut result = sample_result();
    result.output =
        Some(serde_json::to_string(&json!({ "s": awkward, "n": [1.5, -0.0] })).unwrap());
    result.cause = Some(awkward.into());
    result.name = awkward.into();
    let mut history = sample_history();
    history.details = Some(
        Struct::try_from(json!({
            "text": awkward,
            "numbers": [0.1, 1.0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 123456789012345680000.0, 12345.678],
            "nested": {"empty": {}, "list": [], "null": null, "yes": true}
        }))
        .unwrap(),
    );
    let start = StartExecution {
        input: awkward.into(),
        ..Default::default()
    };
    assert_eq!(
        result.to_json_bytes().unwrap(),
        serde_json::to_vec(&result).unwrap()
    );
    assert_eq!(
        history.to_json_bytes().unwrap(),
        serde_json::to_vec(&history).unwrap()
    );
    assert_eq!(
        start.to_json_bytes().unwrap(),
        serde_json::to_vec(&start).unwrap()
    );
    assert_eq!(
        ExecutionResult::from_json_bytes(&result.to_json_bytes().unwrap()).unwrap(),
        result
    );
}

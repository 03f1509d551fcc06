//! Arbitrary bytes as one API request through `Gateway::router()` of a fresh in-memory
//! gateway (a state machine `fuzz` registered) on an in-memory execution store holding a few
//! executions with their histories, so the read operations run their real queries:
//! nothing may panic, and every answer must be AWS JSON 1.0 — a JSON object on 200, else
//! `{"__type", "message"}` with `x-amzn-ErrorType`.
//!
//! Input: byte 0 picks the `X-Amz-Target` (every `Operation`, then none, then whatever the
//! header block says); byte 1's bits pick the method and content type; the rest is a header
//! block (`Name: value` lines) and, after the first blank line, the body.
#![no_main]

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use gateway::config::GatewayConfig;
use gateway::protocol::{Operation, CONTENT_TYPE, TARGET_PREFIX};
use gateway::Gateway;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use store::{EventRecord, Record, ResultRecord, Retention, SourceRef, Status, Store};
use tower::ServiceExt;

/// A machine that runs in no time (sync executions use the system clock, so no Wait).
const DEFINITION: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"in.$":"$"},"Next":"C"},"C":{"Type":"Choice","Choices":[{"Variable":"$.in.fail","IsPresent":true,"Next":"F"}],"Default":"S"},"F":{"Type":"Fail","Error":"E","Cause":"c"},"S":{"Type":"Succeed"}}}"#;

/// The execution ARN of `name` (with an id part, as the worker's ARNs of retried starts).
fn execution(machine: &str, name: &str) -> String {
    format!("arn:aws:states:local:000000000000:express:{machine}:{name}:a1b2")
}

fn event(arn: &str, id: i64, event_type: &str, details: &str) -> Record {
    Record::Event(EventRecord {
        execution_arn: arn.into(),
        id,
        previous_event_id: id - 1,
        timestamp_ms: 1_700_000_000_000 + id,
        event_type: event_type.into(),
        details: details.into(),
    })
}

fn result(arn: &str, name: &str, status: Status, start_ms: i64) -> ResultRecord {
    ResultRecord {
        execution_arn: arn.into(),
        state_machine_arn: store::record::state_machine_of(arn).expect("an Express ARN"),
        name: name.into(),
        status,
        start_ms,
        stop_ms: start_ms + 7,
        output: None,
        error: None,
        cause: None,
        billed_duration_ms: 100,
        billed_memory_mb: 64,
        idempotency_key: None,
        source: None,
    }
}

/// What the store holds: executions of `fuzz` that succeeded, failed, timed out and still
/// run (history only), two starting in the same millisecond (the page cursor's tie-break),
/// one of a machine that is not registered, and histories with execution data as JSON
/// values and as text, details that are no object, and an event type AWS does not define.
/// The seeds in `seeds/gateway.jsonl` name these ARNs.
fn records() -> Vec<Record> {
    let (ok, failed, running) = (
        execution("fuzz", "ok"),
        execution("fuzz", "failed"),
        execution("fuzz", "running"),
    );
    let mut records = vec![
        Record::Result(ResultRecord {
            output: Some(r#"{"in":{"x":1}}"#.into()),
            idempotency_key: Some("key-ok".into()),
            source: Some(SourceRef {
                topic: "quickstep.start".into(),
                partition: 3,
                offset: 42,
            }),
            ..result(&ok, "ok", Status::Succeeded, 1_700_000_000_000)
        }),
        Record::Result(ResultRecord {
            error: Some("E".into()),
            cause: Some("c".into()),
            ..result(&failed, "failed", Status::Failed, 1_700_000_001_000)
        }),
        Record::Result(result(
            &execution("fuzz", "late"),
            "late",
            Status::TimedOut,
            1_700_000_001_000,
        )),
        Record::Result(result(
            &execution("gone", "orphan"),
            "orphan",
            Status::Succeeded,
            1_700_000_002_000,
        )),
    ];
    records.extend([
        event(&ok, 1, "ExecutionStarted", r#"{"input":{"x":1},"inputDetails":{"truncated":false},"roleArn":"arn:aws:iam::000000000000:role/r"}"#),
        event(&ok, 2, "PassStateEntered", r#"{"name":"P","input":{"x":1}}"#),
        event(&ok, 3, "PassStateExited", r#"{"name":"P","output":{"in":{"x":1}}}"#),
        event(&ok, 4, "ChoiceStateEntered", r#"{"name":"C","input":{"in":{"x":1}}}"#),
        event(&ok, 5, "ChoiceStateExited", r#"{"name":"C","output":{"in":{"x":1}}}"#),
        event(&ok, 6, "SucceedStateEntered", r#"{"name":"S","input":{"in":{"x":1}}}"#),
        event(&ok, 7, "SucceedStateExited", r#"{"name":"S","output":{"in":{"x":1}}}"#),
        event(&ok, 8, "ExecutionSucceeded", r#"{"output":{"in":{"x":1}},"outputDetails":{"truncated":false}}"#),
        event(&failed, 1, "ExecutionStarted", r#"{"input":"{\"fail\":true}"}"#),
        event(&failed, 2, "PassStateEntered", r#"{"name":"P","input":"{\"fail\":true}"}"#),
        event(&failed, 3, "PassStateExited", r#"{"name":"P","output":"{\"in\":{\"fail\":true}}"}"#),
        event(&failed, 4, "FailStateEntered", r#"{"name":"F","input":[1,"two",null]}"#),
        event(&failed, 5, "ExecutionFailed", r#"{"error":"E","cause":"c"}"#),
        event(&running, 1, "ExecutionStarted", r#"{"input":{}}"#),
        event(&running, 2, "MapStateEntered", r#"{"name":"M","input":[]}"#),
        event(&running, 3, "MapStateStarted", r#"{"length":2}"#),
        event(&running, 4, "MapIterationStarted", r#"{"name":"M","index":0}"#),
        event(&running, 5, "WaitStateEntered", r#"[1,2]"#),
        event(&running, 6, "SomethingAwsAddsLater", r#"{"x":1}"#),
    ]);
    records
}

/// The store every input's gateway reads, filled once: only the gateway's Kafka reader
/// writes to a store, and an in-memory gateway has none, so it is the same for every input.
fn store() -> &'static Arc<Store> {
    static STORE: OnceLock<Arc<Store>> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = Store::open(None, Retention::default()).expect("an in-memory store");
        store
            .apply(&records())
            .expect("the fixed executions are stored");
        Arc::new(store)
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    })
}

fn request(data: &[u8]) -> Option<Request<Body>> {
    let (&choice, rest) = data.split_first()?;
    let (&flags, rest) = rest.split_first().unwrap_or((&0, &[]));
    let operations: Vec<Operation> = Operation::all().collect();
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, &[][..]),
    };
    let method = if flags & 1 == 0 { "POST" } else { "GET" };
    let mut builder = Request::builder().method(method).uri("/");
    if let Some(op) = operations.get(choice as usize % (operations.len() + 2)) {
        builder = builder.header("x-amz-target", format!("{TARGET_PREFIX}{}", op.as_str()));
    }
    if flags & 2 == 0 {
        builder = builder.header("content-type", CONTENT_TYPE);
    }
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body.to_vec())).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some(request) = request(data) else {
        return;
    };
    runtime().block_on(async {
        // Every gateway needs the deployment's task token key.
        let config: GatewayConfig = serde_json::from_value(serde_json::json!({
            "task_token_key": "the-gateway-fuzz-target-task-token-key-32-bytes"
        }))
        .expect("a gateway configuration");
        let (gateway, _records) = Gateway::in_memory(config).expect("the gateway builds");
        let gateway = gateway.with_store(store().clone());
        gateway
            .register("fuzz", DEFINITION)
            .await
            .expect("the fixed machine registers");
        let response = Arc::new(gateway)
            .router()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("an in-memory body reads");
        if status.as_u16() == 200 {
            assert_eq!(
                headers.get("content-type").map(|v| v.as_bytes()),
                Some(CONTENT_TYPE.as_bytes())
            );
            let body: Value = serde_json::from_slice(&bytes).expect("a success is JSON");
            assert!(body.is_object(), "a success is a JSON object: {body}");
        } else {
            assert!(
                status.is_client_error() || status.is_server_error(),
                "status {status}"
            );
            assert!(
                status.as_u16() != 500,
                "an internal failure: {}",
                String::from_utf8_lossy(&bytes)
            );
            let body: Value = serde_json::from_slice(&bytes).expect("an error is JSON");
            let kind = body["__type"].as_str().expect("an error has a __type");
            assert!(
                body["message"].is_string(),
                "an error has a message: {body}"
            );
            assert_eq!(
                headers
                    .get("x-amzn-errortype")
                    .and_then(|v| v.to_str().ok()),
                Some(kind),
                "x-amzn-ErrorType repeats __type"
            );
        }
    });
});

//! Arbitrary bytes as one API request through `Gateway::router()` of a fresh in-memory
//! gateway (a state machine `fuzz` registered): nothing may panic, and every answer must be
//! AWS JSON 1.0 — a JSON object on 200, else `{"__type", "message"}` with `x-amzn-ErrorType`.
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
use tower::ServiceExt;

/// A machine that runs in no time (sync executions use the system clock, so no Wait).
const DEFINITION: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"in.$":"$"},"Next":"C"},"C":{"Type":"Choice","Choices":[{"Variable":"$.in.fail","IsPresent":true,"Next":"F"}],"Default":"S"},"F":{"Type":"Fail","Error":"E","Cause":"c"},"S":{"Type":"Succeed"}}}"#;

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

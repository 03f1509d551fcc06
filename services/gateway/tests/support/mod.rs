//! What the gateway's integration tests share: one call through the router as an AWS
//! client makes it (the JSON 1.0 protocol, an `x-amz-target`).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gateway::Gateway;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

/// Calls `target` with `body`; the answer's status and JSON (Null when it is not JSON).
pub async fn call(gateway: &Arc<Gateway>, target: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::post("/")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AWSStepFunctions.{target}"))
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = gateway
        .clone()
        .router()
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

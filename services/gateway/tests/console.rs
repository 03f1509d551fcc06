//! The console's HTTP side on an in-memory gateway: the embedded assets, the two read
//! endpoints (filters, pages, one execution with its history and start record) and their
//! refusals — bad parameters, unknown executions, no store, an authenticating gateway.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gateway::config::GatewayConfig;
use gateway::Gateway;
use serde_json::Value;
use std::sync::Arc;
use store::{EventRecord, Record, ResultRecord, SourceRef, Status};
use tower::ServiceExt;

const MACHINE: &str = "arn:aws:states:local:000000000000:stateMachine:orders";

fn arn(name: &str) -> String {
    format!("arn:aws:states:local:000000000000:express:orders:{name}")
}

/// An in-memory gateway with the deployment's task token key (every gateway needs one).
fn gateway(config: GatewayConfig) -> Arc<Gateway> {
    let config = GatewayConfig {
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(
            "the-console-tests-task-token-key-32-bytes",
        )),
        ..config
    };
    Arc::new(Gateway::in_memory(config).expect("gateway").0)
}

fn with_store() -> Arc<Gateway> {
    let gateway = gateway(GatewayConfig {
        store: "memory".into(),
        ..GatewayConfig::default()
    });
    let mut records = Vec::new();
    for i in 0..5 {
        let name = format!("e{i}");
        records.push(Record::Result(ResultRecord {
            execution_arn: arn(&name),
            state_machine_arn: MACHINE.into(),
            name: name.clone(),
            status: if i == 4 {
                Status::Failed
            } else {
                Status::Succeeded
            },
            start_ms: 1_000 * i,
            stop_ms: 1_000 * i + 5,
            output: None,
            error: (i == 4).then(|| "States.TaskFailed".into()),
            cause: None,
            billed_duration_ms: 100,
            billed_memory_mb: 64,
            idempotency_key: Some(format!("key-{i}")),
            source: Some(SourceRef {
                topic: "quickstep.start".into(),
                partition: 1,
                offset: i,
            }),
        }));
    }
    records.push(Record::Event(EventRecord {
        execution_arn: arn("e4"),
        id: 1,
        previous_event_id: 0,
        timestamp_ms: 4_000,
        event_type: "ExecutionStarted".into(),
        details: r#"{"input": {"a": 1}}"#.into(),
    }));
    gateway
        .store()
        .expect("store")
        .apply(&records)
        .expect("applies");
    gateway
}

async fn get(gateway: &Arc<Gateway>, uri: &str) -> (StatusCode, String, String) {
    let response = gateway
        .clone()
        .router()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("text").to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).expect("utf-8"),
    )
}

async fn json(gateway: &Arc<Gateway>, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = get(gateway, uri).await;
    (status, serde_json::from_str(&body).expect("JSON"))
}

fn names(page: &Value) -> Vec<&str> {
    page["executions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test]
async fn assets_are_embedded() {
    let gateway = with_store();
    let (status, content_type, body) = get(&gateway, "/console/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("app.js") && body.contains("dagre.min.js"));
    for (path, marker) in [
        ("/console/app.js", "drawGraph"),
        ("/console/dagre.min.js", "graphlib"),
        ("/console/style.css", "--failed"),
    ] {
        let (status, _, body) = get(&gateway, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(body.contains(marker), "{path}");
    }
    let (status, _, _) = get(&gateway, "/console").await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
}

#[tokio::test]
async fn executions_filter_and_page() {
    let gateway = with_store();
    let (status, all) = json(&gateway, "/console/api/executions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&all), ["e4", "e3", "e2", "e1", "e0"]);
    assert_eq!(all["executions"][0]["idempotencyKey"], "key-4");
    let (_, failed) = json(&gateway, "/console/api/executions?status=FAILED").await;
    assert_eq!(names(&failed), ["e4"]);
    let (_, window) = json(&gateway, "/console/api/executions?from=1000&to=3000").await;
    assert_eq!(names(&window), ["e2", "e1"]);
    let (_, by_key) = json(
        &gateway,
        "/console/api/executions?idempotencyKey=key-2&status=",
    )
    .await;
    assert_eq!(names(&by_key), ["e2"]);
    let (_, by_name) = json(
        &gateway,
        &format!("/console/api/executions?name=e3&stateMachineArn={MACHINE}"),
    )
    .await;
    assert_eq!(names(&by_name), ["e3"]);
    let (_, first) = json(&gateway, "/console/api/executions?limit=2").await;
    assert_eq!(names(&first), ["e4", "e3"]);
    let token = first["nextToken"].as_str().expect("more");
    let (_, second) = json(
        &gateway,
        &format!("/console/api/executions?limit=2&nextToken={token}"),
    )
    .await;
    assert_eq!(names(&second), ["e2", "e1"]);

    for bad in [
        "status=DONE",
        "nextToken=forged",
        "from=yesterday",
        "limit=-1",
    ] {
        let (status, body) = json(&gateway, &format!("/console/api/executions?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["message"].is_string(), "{bad}");
    }
}

#[tokio::test]
async fn one_execution_with_history_and_start_record() {
    let gateway = with_store();
    let (status, page) = json(
        &gateway,
        &format!("/console/api/execution?executionArn={}", arn("e4")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["execution"]["status"], "FAILED");
    assert_eq!(page["execution"]["error"], "States.TaskFailed");
    assert_eq!(page["execution"]["input"], r#"{"a":1}"#);
    assert_eq!(page["events"][0]["type"], "ExecutionStarted");
    assert_eq!(page["source"]["offset"], 4);
    assert_eq!(page["brokers"], "127.0.0.1:9092");
    let (status, _) = json(
        &gateway,
        &format!("/console/api/execution?executionArn={}", arn("nobody")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = json(&gateway, "/console/api/execution").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn refusals_are_named() {
    let off = gateway(GatewayConfig::default());
    let (status, body) = json(&off, "/console/api/executions").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"].as_str().expect("message").contains("store"),
        "{body}"
    );
    let signed = gateway(GatewayConfig {
        store: "memory".into(),
        access_keys: [("AKID".to_owned(), "secret".to_owned())].into(),
        ..GatewayConfig::default()
    });
    for path in ["/console/", "/console/app.js", "/console/api/executions"] {
        let (status, _, body) = get(&signed, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("without authentication"), "{path}: {body}");
    }
}

//! TestState on an HTTP Task against a real local HTTP server: at TRACE the inspection data
//! holds the request as sent and the response as received; what the connection adds (its
//! API key, headers and query parameters) shows only with `revealSecrets`.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use gateway::config::GatewayConfig;
use gateway::Gateway;
use runtime::tasks::config::{AuthConfig, ConnectionConfig, SecretSource};
use serde_json::{json, Value};
use std::sync::Arc;

mod support;

const SECRET: &str = "key-0123456789";

/// A server that answers with the API key it was sent, so a test can see the secret travel.
async fn server() -> String {
    let app = Router::new().route(
        "/echo",
        post(|headers: HeaderMap, body: String| async move {
            let key = headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                json!({"got": body, "key_len": key.len()}).to_string(),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/echo")
}

fn gateway() -> Arc<Gateway> {
    let file = std::env::temp_dir().join(format!("quickstep-teststate-{}", std::process::id()));
    std::fs::write(&file, SECRET).expect("secret file");
    let mut config = GatewayConfig {
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(
            "the-test-state-http-task-token-key-32-bytes",
        )),
        ..GatewayConfig::default()
    };
    config.tasks.connections.insert(
        "api".into(),
        ConnectionConfig {
            auth: AuthConfig::ApiKey {
                header: "x-api-key".into(),
                value: SecretSource {
                    env: None,
                    file: Some(file),
                },
            },
            headers: [("x-conn".to_owned(), "conn-header".to_owned())].into(),
            query: [("conn_q".to_owned(), "cq".to_owned())].into(),
        },
    );
    Arc::new(Gateway::in_memory(config).expect("gateway").0)
}

async fn test_state(gateway: &Arc<Gateway>, body: Value) -> (StatusCode, Value) {
    let (status, answer) = support::call(gateway, "TestState", body).await;
    assert!(!answer.is_null(), "TestState answers JSON ({status})");
    (status, answer)
}

fn request(endpoint: &str, level: &str, reveal: bool) -> Value {
    let definition = json!({"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": true,
        "Parameters": {"ApiEndpoint": endpoint, "Method": "POST", "RequestBody": {"a": 1},
                       "QueryParameters": {"q": "1"},
                       "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:111111111111:connection/api/abc"}}});
    json!({"definition": definition.to_string(), "roleArn": "arn:aws:iam::111111111111:role/r",
           "input": "{}", "inspectionLevel": level, "revealSecrets": reveal})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_shows_the_exchange_and_hides_what_the_connection_adds() {
    let endpoint = server().await;
    let gateway = gateway();
    let (status, answer) = test_state(&gateway, request(&endpoint, "TRACE", false)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "SUCCEEDED", "{answer}");
    let sent = &answer["inspectionData"]["request"];
    assert_eq!(sent["method"], "POST");
    assert_eq!(sent["protocol"], "http");
    assert_eq!(sent["url"], format!("{endpoint}?q=1"));
    assert_eq!(sent["body"], "{\"a\":1}");
    let headers = sent["headers"].as_str().expect("text");
    assert!(headers.starts_with('[') && headers.contains("content-type: application/json"));
    assert!(
        !headers.contains("x-api-key") && !headers.contains("x-conn"),
        "{headers}"
    );
    assert!(
        !answer.to_string().contains(SECRET),
        "no secret without revealSecrets"
    );
    let received = &answer["inspectionData"]["response"];
    assert_eq!(received["statusCode"], "200");
    assert_eq!(received["statusMessage"], "OK");
    let body: Value = serde_json::from_str(received["body"].as_str().expect("text")).expect("JSON");
    assert_eq!(body["key_len"], SECRET.len(), "the key was sent");

    let (_, revealed) = test_state(&gateway, request(&endpoint, "TRACE", true)).await;
    let sent = &revealed["inspectionData"]["request"];
    let headers = sent["headers"].as_str().expect("text");
    assert!(
        headers.contains(&format!("x-api-key: {SECRET}")),
        "{headers}"
    );
    assert!(headers.contains("x-conn: conn-header"), "{headers}");
    assert!(sent["url"].as_str().expect("text").contains("conn_q=cq"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_shows_no_http_exchange() {
    let endpoint = server().await;
    let (_, answer) = test_state(&gateway(), request(&endpoint, "DEBUG", false)).await;
    assert_eq!(answer["status"], "SUCCEEDED", "{answer}");
    let data = answer["inspectionData"]
        .as_object()
        .expect("inspection data");
    assert!(!data.contains_key("request") && !data.contains_key("response"));
    assert!(data.contains_key("afterParameters"));
}

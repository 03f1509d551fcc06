//! The HTTP Task (`arn:aws:states:::http:invoke`) against a real HTTP server started here:
//! queries, headers, bodies, status errors, timeouts, connections and their secrets.

use super::common::{run, task};
use asl::validate::MachineType;
use asl::Status;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use runtime::clock::SystemClock;
use runtime::tasks::callback::CallbackRegistry;
use runtime::tasks::config::TasksConfig;
use runtime::tasks::Integrations;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
const API_KEY: &str = "key-5ecret-value-42";
const PASSWORD: &str = "pa55word-very-secret";

static TOKEN_CALLS: AtomicUsize = AtomicUsize::new(0);

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Value::String(v.to_str().unwrap_or("").into()),
            )
        })
        .collect();
    (
        [("content-type", "application/json")],
        json!({
            "method": method.as_str(),
            "query": uri.query(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        })
        .to_string(),
    )
}

async fn status(Path(code): Path<u16>) -> impl IntoResponse {
    (
        StatusCode::from_u16(code).unwrap(),
        [("content-type", "application/json")],
        json!({"error": "nope", "api_key_was": API_KEY}).to_string(),
    )
}

async fn slow(Path(ms): Path<u64>) -> impl IntoResponse {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "late"
}

async fn token(headers: HeaderMap) -> impl IntoResponse {
    TOKEN_CALLS.fetch_add(1, Ordering::SeqCst);
    let expected = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "client-1:oauth-client-secret-9"
        )
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, "{}".to_owned());
    }
    (
        StatusCode::OK,
        json!({"access_token": "bearer-token-abcdef", "expires_in": 3600}).to_string(),
    )
}

async fn http_server() -> String {
    let app = axum::Router::new()
        .route("/echo", axum::routing::any(echo))
        .route("/status/{code}", axum::routing::any(status))
        .route("/slow/{ms}", axum::routing::get(slow))
        .route(
            "/huge",
            axum::routing::get(|| async { "x".repeat(300_000) }),
        )
        .route("/text", axum::routing::get(|| async { "plain text" }))
        .route("/token", axum::routing::post(token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

pub(crate) fn integrations(config: Value) -> Integrations {
    let mut config: TasksConfig = serde_json::from_value(config).unwrap();
    config.http.read_timeout_ms = config.http.read_timeout_ms.min(10_000);
    Integrations::new(
        &config,
        None,
        CallbackRegistry::new(Arc::new(SystemClock), super::common::keys()),
    )
    .unwrap()
}

fn http(parameters: Value) -> Value {
    task(json!({"Resource": "arn:aws:states:::http:invoke", "Parameters": parameters}))
}

#[tokio::test]
async fn http_get_with_query_headers_and_traceparent() {
    let base = http_server().await;
    let tasks = integrations(json!({}));
    let definition = http(json!({
        "ApiEndpoint": format!("{base}/echo"),
        "Method": "GET",
        "Headers": {"x-custom": "one", "x-list": ["a", "b"]},
        "QueryParameters": {"q": "rust lang", "tag": ["x", "y"]},
    }));
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    let output = outcome.output.expect("succeeds");
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["StatusText"], "OK");
    assert_eq!(
        output["Headers"]["content-type"],
        json!(["application/json"])
    );
    let body = &output["ResponseBody"];
    assert_eq!(body["method"], "GET");
    assert_eq!(body["query"], "q=rust+lang&tag=x&tag=y");
    assert_eq!(body["headers"]["x-custom"], "one");
    assert_eq!(body["headers"]["x-list"], "a,b");
    let traceparent = body["headers"]["traceparent"]
        .as_str()
        .expect("traceparent sent");
    assert_eq!(traceparent.len(), 55, "{traceparent}");
    assert!(traceparent.starts_with("00-"));
    // A non-JSON body stays text.
    let definition = http(json!({"ApiEndpoint": format!("{base}/text"), "Method": "GET"}));
    let output = run(&definition, json!({}), MachineType::Express, &tasks)
        .await
        .output
        .unwrap();
    assert_eq!(output["ResponseBody"], "plain text");
}

#[tokio::test]
async fn http_trace_context_is_propagated() {
    let base = http_server().await;
    let tasks = integrations(json!({}));
    let definition = http(json!({"ApiEndpoint": format!("{base}/echo"), "Method": "GET"}));
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned();
    let outcome = runtime::tasks::trace::with_traceparent(
        Some(parent),
        run(&definition, json!({}), MachineType::Express, &tasks),
    )
    .await;
    let seen = outcome.output.unwrap()["ResponseBody"]["headers"]["traceparent"].clone();
    assert!(
        seen.as_str()
            .unwrap()
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{seen}"
    );
}

#[tokio::test]
async fn http_post_bodies_json_and_url_encoded() {
    let base = http_server().await;
    let tasks = integrations(json!({}));
    let definition = http(json!({
        "ApiEndpoint": format!("{base}/echo"),
        "Method": "POST",
        "RequestBody": {"a": 1, "list": [1, 2]},
    }));
    let body = run(&definition, json!({}), MachineType::Express, &tasks)
        .await
        .output
        .unwrap()["ResponseBody"]
        .clone();
    assert_eq!(body["body"], r#"{"a":1,"list":[1,2]}"#);
    assert_eq!(
        body["headers"]["content-type"],
        "application/json; charset=UTF-8"
    );
    for (format, expected) in [
        ("BRACKETS", "list%5B%5D=x&list%5B%5D=y"),
        ("COMMAS", "list=x%2Cy"),
        ("INDICES", "list%5B0%5D=x&list%5B1%5D=y"),
        ("REPEAT", "list=x&list=y"),
    ] {
        let definition = http(json!({
            "ApiEndpoint": format!("{base}/echo"),
            "Method": "POST",
            "RequestBody": {"list": ["x", "y"]},
            "Transform": {"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": format}},
        }));
        let body = run(&definition, json!({}), MachineType::Express, &tasks)
            .await
            .output
            .unwrap()["ResponseBody"]
            .clone();
        assert_eq!(body["body"], expected, "{format}");
        assert_eq!(
            body["headers"]["content-type"],
            "application/x-www-form-urlencoded"
        );
    }
}

#[tokio::test]
async fn http_4xx_and_5xx_map_to_status_code_errors() {
    let base = http_server().await;
    let tasks = integrations(json!({}));
    for code in [400u16, 404, 429, 500, 503] {
        let definition =
            http(json!({"ApiEndpoint": format!("{base}/status/{code}"), "Method": "GET"}));
        let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
        assert_eq!(outcome.status, Status::Failed);
        assert_eq!(
            outcome.error.as_deref(),
            Some(format!("States.Http.StatusCode.{code}").as_str())
        );
        let cause: Value = serde_json::from_str(outcome.cause.as_deref().unwrap()).unwrap();
        assert_eq!(cause["StatusCode"], code);
        assert_eq!(cause["ResponseBody"]["error"], "nope");
    }
    // Catchable by name, as AWS's errors are.
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
              "Parameters": {"ApiEndpoint": format!("{base}/status/404"), "Method": "GET"},
              "Catch": [{"ErrorEquals": ["States.Http.StatusCode.404"], "Next": "Missing"}], "End": true},
        "Missing": {"Type": "Pass", "Result": "missing", "End": true}}});
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.output, Some(json!("missing")));
}

// On tokio's paused clock: the engine's timers and the slow server's sleep run on it, so
// the timeout fires after exactly one (virtual) second however busy the machine is.
#[tokio::test(start_paused = true)]
async fn http_timeouts_heartbeats_and_refused_connections() {
    let base = http_server().await;
    let tasks = integrations(json!({}));
    let started = tokio::time::Instant::now();
    let definition = task(
        json!({"Resource": "arn:aws:states:::http:invoke", "TimeoutSeconds": 1,
        "Parameters": {"ApiEndpoint": format!("{base}/slow/5000"), "Method": "GET"}}),
    );
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(1100),
        "{waited:?}"
    );
    let definition = task(
        json!({"Resource": "arn:aws:states:::http:invoke", "HeartbeatSeconds": 1,
        "Parameters": {"ApiEndpoint": format!("{base}/slow/5000"), "Method": "GET"}}),
    );
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.HeartbeatTimeout"));
    // The client's own read timeout, when the state sets none.
    let quick = integrations(json!({"http": {"read_timeout_ms": 200}}));
    let definition = http(json!({"ApiEndpoint": format!("{base}/slow/3000"), "Method": "GET"}));
    let outcome = run(&definition, json!({}), MachineType::Express, &quick).await;
    assert_eq!(outcome.error.as_deref(), Some("States.Http.Socket"));
    assert!(outcome.cause.unwrap().contains("timed out"));
    // Nothing listens on port 1.
    let definition = http(json!({"ApiEndpoint": "http://127.0.0.1:1/x", "Method": "GET"}));
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.Http.Socket"));
    assert!(outcome.cause.unwrap().contains("could not connect"));
}

#[tokio::test]
async fn huge_responses_exceed_the_payload_limit() {
    let base = http_server().await;
    let tasks = integrations(json!({}));
    let definition = http(json!({"ApiEndpoint": format!("{base}/huge"), "Method": "GET"}));
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.DataLimitExceeded"));
}

#[tokio::test]
async fn connections_authenticate_and_secrets_never_show() {
    let base = http_server().await;
    let dir = std::env::temp_dir().join(format!("quickstep-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("password"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(dir.join("client"), "oauth-client-secret-9").unwrap();
    std::env::set_var("QUICKSTEP_TEST_API_KEY", API_KEY);
    let config = json!({"connections": {
        "keyed": {"auth": {"type": "api_key", "header": "x-api-key", "value": {"env": "QUICKSTEP_TEST_API_KEY"}},
                  "headers": {"x-from-connection": "yes"}},
        "basic": {"auth": {"type": "basic", "username": "ada", "password": {"file": dir.join("password")}}},
        "oauth": {"auth": {"type": "oauth_client_credentials", "token_endpoint": format!("{base}/token"),
                            "client_id": "client-1", "client_secret": {"file": dir.join("client")}}},
    }});
    let parsed: TasksConfig = serde_json::from_value(config.clone()).unwrap();
    assert!(!format!("{parsed:?}").contains(API_KEY));
    let tasks = integrations(config);
    let call = |connection: &str, path: &str| {
        http(
            json!({"ApiEndpoint": format!("{base}{path}"), "Method": "GET",
            "Authentication": {"ConnectionArn": format!("arn:aws:events:us-east-1:111111111111:connection/{connection}/0c4f")}}),
        )
    };
    let output = run(
        &call("keyed", "/echo"),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await
    .output
    .unwrap();
    let headers = &output["ResponseBody"]["headers"];
    assert_eq!(
        headers["x-api-key"], "***",
        "the server got it; the result shows none"
    );
    assert_eq!(headers["x-from-connection"], "yes");
    assert!(!output.to_string().contains(API_KEY));
    let outcome = run(
        &call("keyed", "/status/401"),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(outcome.error.as_deref(), Some("States.Http.StatusCode.401"));
    assert!(!outcome.cause.as_deref().unwrap().contains(API_KEY));
    assert!(outcome.cause.as_deref().unwrap().contains("***"));
    let output = run(
        &call("basic", "/echo"),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await
    .output
    .unwrap();
    assert_eq!(
        output["ResponseBody"]["headers"]["authorization"],
        "Basic ***"
    );
    assert!(!output.to_string().contains(PASSWORD));
    for _ in 0..2 {
        let output = run(
            &call("oauth", "/echo"),
            json!({}),
            MachineType::Express,
            &tasks,
        )
        .await
        .output
        .unwrap();
        assert_eq!(
            output["ResponseBody"]["headers"]["authorization"],
            "Bearer ***"
        );
    }
    assert_eq!(TOKEN_CALLS.load(Ordering::SeqCst), 1, "the token is cached");
    let outcome = run(
        &call("nope", "/echo"),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(
        outcome.error.as_deref(),
        Some("Events.ConnectionResource.ResourceNotFound")
    );
    // A missing secret is a configuration error that names the variable, not a value.
    let error = Integrations::new(
        &serde_json::from_value(json!({"connections": {"c": {"auth": {"type": "api_key", "header": "k", "value": {"env": "QUICKSTEP_TEST_UNSET"}}}}})).unwrap(),
        None,
        CallbackRegistry::new(Arc::new(SystemClock), super::common::keys()),
    )
    .err()
    .unwrap();
    assert!(error.to_string().contains("QUICKSTEP_TEST_UNSET"));
}

//! The task integrations against real servers started here: an ordinary HTTP server (axum)
//! and a Lambda-Invoke-compatible one; callbacks; mocks; the Kafka task on librdkafka's
//! mock cluster. Everything runs on the real clock, with short timeouts.

mod common;

use asl::validate::MachineType;
use asl::Status;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use common::{lambda_server, run, task};
use runtime::clock::SystemClock;
use runtime::task_token::{TaskTokenKeys, TokenError};
use runtime::tasks::callback::{
    CallbackError, CallbackMessage, CallbackRegistry, CallbackRouter, Routed,
};
use runtime::tasks::config::TasksConfig;
use runtime::tasks::mock::MockTasks;
use runtime::tasks::Integrations;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

fn integrations(config: Value) -> Integrations {
    let mut config: TasksConfig = serde_json::from_value(config).unwrap();
    config.http.read_timeout_ms = config.http.read_timeout_ms.min(10_000);
    Integrations::new(
        &config,
        None,
        CallbackRegistry::new(Arc::new(SystemClock), common::keys()),
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

#[tokio::test]
async fn http_timeouts_heartbeats_and_refused_connections() {
    let base = http_server().await;
    let tasks = integrations(json!({}));
    let started = Instant::now();
    let definition = task(
        json!({"Resource": "arn:aws:states:::http:invoke", "TimeoutSeconds": 1,
        "Parameters": {"ApiEndpoint": format!("{base}/slow/5000"), "Method": "GET"}}),
    );
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
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
        CallbackRegistry::new(Arc::new(SystemClock), common::keys()),
    )
    .err()
    .unwrap();
    assert!(error.to_string().contains("QUICKSTEP_TEST_UNSET"));
}

fn lambda_tasks(endpoint: &str) -> Integrations {
    integrations(json!({"lambda": {"endpoint": endpoint}}))
}

#[tokio::test]
async fn lambda_payloads_envelopes_and_errors() {
    let (base, functions) = lambda_server().await;
    functions.add("t", "echo", json!({"behaviour": "identity"}));
    functions.add(
        "t",
        "boom",
        json!({"behaviour": "raise", "errorType": "CustomError", "errorMessage": "it broke"}),
    );
    functions.add(
        "t",
        "huge",
        json!({"behaviour": "oversized_payload", "payload_bytes": 300000}),
    );
    let tasks = lambda_tasks(&format!("{base}/t"));
    let arn = |name: &str| format!("arn:aws:lambda:us-east-1:111111111111:function:{name}");
    let outcome = run(
        &task(json!({"Resource": arn("echo")})),
        json!({"a": 1}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(outcome.output, Some(json!({"a": 1})));
    let definition = task(json!({"Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": arn("echo"), "Payload.$": "$"}}));
    let output = run(&definition, json!({"b": 2}), MachineType::Express, &tasks)
        .await
        .output
        .unwrap();
    assert_eq!(output["Payload"], json!({"b": 2}));
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["ExecutedVersion"], "$LATEST");
    assert_eq!(output["SdkHttpMetadata"]["HttpStatusCode"], 200);
    assert_eq!(output["SdkResponseMetadata"]["RequestId"], "req-1");
    // A string Payload is sent as its text; the answer is JSON when it parses.
    let definition = task(json!({"Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "echo", "Payload": "0.5"}}));
    let output = run(&definition, json!({}), MachineType::Express, &tasks)
        .await
        .output
        .unwrap();
    assert_eq!(output["Payload"], json!(0.5));
    // Function errors: error = errorType, cause = the error document.
    for resource in [arn("boom"), "arn:aws:states:::lambda:invoke".to_owned()] {
        let definition = task(
            json!({"Resource": resource, "Parameters": {"FunctionName": "boom", "Payload": {}}}),
        );
        let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
        assert_eq!(outcome.error.as_deref(), Some("CustomError"));
        let cause: Value = serde_json::from_str(outcome.cause.as_deref().unwrap()).unwrap();
        assert_eq!(cause["errorMessage"], "it broke");
        assert_eq!(cause["errorType"], "CustomError");
    }
    let outcome = run(
        &task(json!({"Resource": arn("huge")})),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(outcome.error.as_deref(), Some("States.DataLimitExceeded"));
    let outcome = run(
        &task(json!({"Resource": arn("ghost")})),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(
        outcome.error.as_deref(),
        Some("Lambda.ResourceNotFoundException")
    );
    assert!(outcome.cause.unwrap().contains("Function not found"));
    // The traceparent went along.
    assert!(functions
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|h| h.contains_key("traceparent")));
    // No endpoint, and an endpoint nobody listens on.
    let outcome = run(
        &task(json!({"Resource": arn("echo")})),
        json!({}),
        MachineType::Express,
        &integrations(json!({})),
    )
    .await;
    assert_eq!(outcome.error.as_deref(), Some("States.TaskFailed"));
    assert!(outcome.cause.unwrap().contains("QUICKSTEP_LAMBDA_ENDPOINT"));
    let outcome = run(
        &task(json!({"Resource": arn("echo")})),
        json!({}),
        MachineType::Express,
        &lambda_tasks("http://127.0.0.1:1"),
    )
    .await;
    assert_eq!(outcome.error.as_deref(), Some("Lambda.SdkClientException"));
}

#[tokio::test]
async fn lambda_timeouts_are_the_states() {
    let (base, functions) = lambda_server().await;
    functions.add(
        "t",
        "slow",
        json!({"behaviour": "identity", "delay_seconds": 5}),
    );
    let tasks = lambda_tasks(&format!("{base}/t"));
    let started = Instant::now();
    let definition = task(
        json!({"Resource": "arn:aws:lambda:us-east-1:111111111111:function:slow", "TimeoutSeconds": 1}),
    );
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    assert!(started.elapsed() < Duration::from_millis(2500));
}

fn callback_definition(heartbeat: Option<u64>) -> Value {
    let mut state = json!({"Resource": "arn:aws:states:::quickstep:callback.waitForTaskToken",
        "Parameters": {"token.$": "$$.Task.Token"}, "TimeoutSeconds": 10});
    if let Some(seconds) = heartbeat {
        state["HeartbeatSeconds"] = json!(seconds);
    }
    task(state)
}

async fn token_of(registry: &CallbackRegistry) -> String {
    for _ in 0..200 {
        if let Some(token) = registry.waiting_tokens().pop() {
            return token;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no task waited");
}

#[tokio::test]
async fn callbacks_success_failure_heartbeats_and_ended_tokens() {
    let registry = CallbackRegistry::new(Arc::new(SystemClock), common::keys());
    let tasks = Integrations::new(&TasksConfig::default(), None, registry.clone()).unwrap();
    let router = CallbackRouter {
        registry: Some(registry.clone()),
        producer: None,
        topic: "quickstep.callbacks".into(),
    };
    // Success, through the router (the gateway's path).
    let definition = callback_definition(None);
    let (outcome, token) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        async {
            let token = token_of(&registry).await;
            let routed = router
                .send(&CallbackMessage::SendTaskSuccess {
                    task_token: token.clone(),
                    output: r#"{"approved": true}"#.into(),
                })
                .await;
            assert_eq!(routed, Ok(Routed::Local));
            token
        }
    );
    assert_eq!(outcome.output, Some(json!({"approved": true})));
    // The task is over: a second answer is too late; a token never seen does not exist.
    let again = CallbackMessage::SendTaskSuccess {
        task_token: token,
        output: "{}".into(),
    };
    assert_eq!(registry.deliver(&again), Err(CallbackError::TaskTimedOut));
    let unknown = CallbackMessage::SendTaskHeartbeat {
        task_token: common::keys().mint("arn:aws:states:local:0:express:test:other"),
    };
    assert_eq!(
        registry.deliver(&unknown),
        Err(CallbackError::TaskDoesNotExist)
    );
    for (token, reason) in [
        (String::new(), TokenError::Malformed),
        ("f".repeat(64), TokenError::Malformed),
        (
            TaskTokenKeys::ephemeral()
                .unwrap()
                .mint(&common::info().execution_arn),
            TokenError::Forged,
        ),
    ] {
        let invalid = CallbackMessage::SendTaskHeartbeat { task_token: token };
        assert_eq!(
            registry.deliver(&invalid),
            Err(CallbackError::InvalidToken(reason))
        );
    }
    // Failure.
    let (outcome, _) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        async {
            let token = token_of(&registry).await;
            let bad = CallbackMessage::SendTaskSuccess {
                task_token: token.clone(),
                output: "not json".into(),
            };
            assert!(matches!(
                registry.deliver(&bad),
                Err(CallbackError::InvalidOutput(_))
            ));
            // The live token with one character changed: refused, and the task waits on.
            let mut altered = token.clone().into_bytes();
            altered[40] = if altered[40] == b'A' { b'B' } else { b'A' };
            let altered = CallbackMessage::SendTaskFailure {
                task_token: String::from_utf8(altered).unwrap(),
                error: Some("Forged".into()),
                cause: None,
            };
            assert_eq!(
                registry.deliver(&altered),
                Err(CallbackError::InvalidToken(TokenError::Forged))
            );
            assert_eq!(registry.waiting(), 1);
            registry
                .deliver(&CallbackMessage::SendTaskFailure {
                    task_token: token,
                    error: Some("Rejected".into()),
                    cause: Some("no budget".into()),
                })
                .unwrap();
        }
    );
    assert_eq!(outcome.error.as_deref(), Some("Rejected"));
    assert_eq!(outcome.cause.as_deref(), Some("no budget"));
    // Heartbeats keep a task alive past HeartbeatSeconds…
    let definition = callback_definition(Some(1));
    let started = Instant::now();
    let (outcome, _) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        async {
            let token = token_of(&registry).await;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                registry
                    .deliver(&CallbackMessage::SendTaskHeartbeat {
                        task_token: token.clone(),
                    })
                    .unwrap();
            }
            registry
                .deliver(&CallbackMessage::SendTaskSuccess {
                    task_token: token,
                    output: "1".into(),
                })
                .unwrap();
        }
    );
    assert_eq!(outcome.output, Some(json!(1)));
    assert!(started.elapsed() > Duration::from_millis(1900));
    // …and without them the engine times the task out; its token has ended.
    let (outcome, token) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        token_of(&registry)
    );
    assert_eq!(outcome.error.as_deref(), Some("States.HeartbeatTimeout"));
    assert_eq!(
        registry.deliver(&CallbackMessage::SendTaskSuccess {
            task_token: token,
            output: "{}".into()
        }),
        Err(CallbackError::TaskTimedOut)
    );
    assert_eq!(registry.waiting(), 0);
}

#[tokio::test]
async fn lambda_wait_for_task_token_calls_then_waits() {
    let (base, functions) = lambda_server().await;
    functions.add("t", "echo", json!({"behaviour": "identity"}));
    let registry = CallbackRegistry::new(Arc::new(SystemClock), common::keys());
    let config: TasksConfig =
        serde_json::from_value(json!({"lambda": {"endpoint": format!("{base}/t")}})).unwrap();
    let tasks = Integrations::new(&config, None, registry.clone()).unwrap();
    let definition = task(
        json!({"Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token"}}, "TimeoutSeconds": 10}),
    );
    let (outcome, _) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        async {
            let token = token_of(&registry).await;
            registry
                .deliver(&CallbackMessage::SendTaskSuccess {
                    task_token: token,
                    output: r#""done""#.into(),
                })
                .unwrap();
        }
    );
    assert_eq!(outcome.output, Some(json!("done")));
    assert_eq!(
        functions.seen.lock().unwrap().len(),
        1,
        "the function was called once"
    );
}

#[tokio::test]
async fn mocks_answer_by_state_name_and_invocation() {
    let config = json!({
        "StateMachines": {"Orders": {"TestCases": {
            "RetryPath": {"Charge": "ChargeFlaky"},
            "HappyPath": {"Charge": "ChargeOk", "Ship": "ShipOk"}}}},
        "MockedResponses": {
            "ChargeFlaky": {"0": {"Throw": {"Error": "Busy", "Cause": "try again"}},
                            "1-2": {"Throw": {"Error": "Busy", "Cause": "still"}},
                            "3": {"Return": {"charged": true}}},
            "ChargeOk": {"0": {"Return": {"charged": true}}},
            "ShipOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"shipped": 1}}}}}
    });
    let definition = json!({"StartAt": "Charge", "States": {
        "Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "charge"},
                   "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 3}], "Next": "Ship"},
        "Ship": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "ship"},
                 "OutputPath": "$.Payload", "End": true}}});
    let happy = MockTasks::from_json(config.clone(), None, "HappyPath", None).unwrap();
    let outcome = run(&definition, json!({}), MachineType::Express, &happy).await;
    assert_eq!(outcome.output, Some(json!({"shipped": 1})));
    // Ship is not mocked in RetryPath: it goes to the fallback, the real integrations.
    let (base, functions) = lambda_server().await;
    functions.add(
        "t",
        "ship",
        json!({"behaviour": "constant", "value": {"real": true}}),
    );
    let fallback: Arc<dyn asl::TaskHandler> = Arc::new(lambda_tasks(&format!("{base}/t")));
    let retry =
        MockTasks::from_json(config.clone(), Some("Orders"), "RetryPath", Some(fallback)).unwrap();
    let outcome = run(&definition, json!({}), MachineType::Express, &retry).await;
    assert_eq!(outcome.output, Some(json!({"real": true})));
    // Three attempts are not enough when the fourth call is the first success.
    let definition_two = {
        let mut d = definition.clone();
        d["States"]["Charge"]["Retry"][0]["MaxAttempts"] = json!(2);
        d
    };
    let retry = MockTasks::from_json(config.clone(), None, "RetryPath", None).unwrap();
    let outcome = run(&definition_two, json!({}), MachineType::Express, &retry).await;
    assert_eq!(outcome.error.as_deref(), Some("Busy"));
    assert_eq!(outcome.cause.as_deref(), Some("still"));
    assert!(MockTasks::from_json(config, None, "Nope", None)
        .err()
        .unwrap()
        .contains("Nope"));
}

#[tokio::test]
async fn kafka_task_produces_and_reports_the_offset() {
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("orders", 1, 1).unwrap();
    let producer: rdkafka::producer::FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    let tasks = Integrations::new(
        &TasksConfig::default(),
        Some(producer),
        CallbackRegistry::new(Arc::new(SystemClock), common::keys()),
    )
    .unwrap();
    let definition = task(
        json!({"Resource": "arn:aws:states:::quickstep:kafka.produce",
        "Parameters": {"Topic": "orders", "Key.$": "$.id", "Headers": {"kind": "order"}, "Value.$": "$"}}),
    );
    for expected in 0..2 {
        let outcome = run(
            &definition,
            json!({"id": "o-1"}),
            MachineType::Express,
            &tasks,
        )
        .await;
        assert_eq!(
            outcome.output,
            Some(json!({"Topic": "orders", "Partition": 0, "Offset": expected}))
        );
    }
    let definition = task(
        json!({"Resource": "arn:aws:states:::quickstep:kafka.produce", "Parameters": {"Value": 1}}),
    );
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
}

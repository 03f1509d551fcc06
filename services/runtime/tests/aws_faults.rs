//! What the state machine sees when an AWS call goes wrong, on small stubs (axum) that
//! answer as AWS does: throttling by its AWS name and exactly one request per attempt (no
//! hidden retries), the SigV4 and traceparent headers, rate limits, the payload limit, an
//! unreachable endpoint, a missing region; and `aws-sdk:lambda:invoke` on the project's
//! Lambda-compatible server.

mod common;

use asl::validate::MachineType;
use asl::{Outcome, Status};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::{lambda_server, run, task};
use runtime::clock::SystemClock;
use runtime::tasks::aws::credentials::Env;
use runtime::tasks::callback::CallbackRegistry;
use runtime::tasks::config::TasksConfig;
use runtime::tasks::Integrations;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "stub-secret-key-never-shown";

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

/// Answers every call as DynamoDB does when it throttles.
async fn throttle(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    seen.0.lock().unwrap().push((headers, body));
    (
        StatusCode::BAD_REQUEST,
        [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amzn-requestid", "req-throttled"),
        ],
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
    )
}

/// Answers `{}` quickly; a body over the payload limit for `GetItem`; not JSON for `Scan`.
async fn answer(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let target = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.0.lock().unwrap().push((headers, body));
    let body = if target.ends_with(".GetItem") {
        format!(
            "{{\"Item\":{{\"v\":{{\"S\":\"{}\"}}}}}}",
            "a".repeat(300_000)
        )
    } else if target.ends_with(".Scan") {
        "<html>a proxy's page</html>".to_owned()
    } else {
        "{}".to_owned()
    };
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.0")],
        body,
    )
}

async fn stub(handler: axum::routing::MethodRouter<Seen>) -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/", handler)
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), seen)
}

fn env(vars: &[(&str, &str)]) -> Env {
    Env {
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        home: None,
    }
}

fn integrations(config: &TasksConfig, vars: &[(&str, &str)]) -> Integrations {
    Integrations::with_env(
        config,
        None,
        CallbackRegistry::new(Arc::new(SystemClock), common::keys()),
        &env(vars),
    )
    .expect("integrations build")
}

fn keys(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.to_owned()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDSTUB".into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
        ("AWS_SESSION_TOKEN", "stub-session-token-also-secret".into()),
    ]
}

fn as_refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn get_item(tasks: &Integrations, extra: Value) -> Outcome {
    let mut state = json!({"Resource": "arn:aws:states:::dynamodb:getItem",
        "Parameters": {"TableName": "t", "Key": {"id": {"S": "1"}}}});
    state
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    run(&task(state), json!({}), MachineType::Express, tasks).await
}

#[tokio::test]
async fn throttling_is_named_as_aws_names_it_and_only_retry_retries() {
    let (endpoint, seen) = stub(axum::routing::post(throttle)).await;
    let vars = keys(&endpoint);
    let tasks = integrations(&TasksConfig::default(), &as_refs(&vars));
    let outcome = get_item(&tasks, json!({})).await;
    assert_eq!(outcome.status, Status::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("DynamoDB.ThrottlingException")
    );
    let cause = outcome.cause.unwrap();
    assert!(cause.contains("Rate of requests exceeds"), "{cause}");
    assert!(cause.contains("Request ID: req-throttled"), "{cause}");
    assert!(
        !cause.contains(SECRET) && !cause.contains("AKIDSTUB"),
        "{cause}"
    );
    assert_eq!(seen.0.lock().unwrap().len(), 1, "one call, no SDK retry");

    // The SigV4 signature and the trace context were on the call.
    let (headers, body) = seen.0.lock().unwrap()[0].clone();
    let auth = headers["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDSTUB/"),
        "{auth}"
    );
    assert!(auth.contains("/eu-west-1/dynamodb/aws4_request"), "{auth}");
    assert!(!auth.contains(SECRET));
    assert_eq!(
        headers["x-amz-security-token"],
        "stub-session-token-also-secret"
    );
    assert_eq!(headers["x-amz-target"], "DynamoDB_20120810.GetItem");
    assert!(headers.contains_key("traceparent"));
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"TableName": "t", "Key": {"id": {"S": "1"}}})
    );

    // The state machine's Retry is what retries: 1 + 2 attempts.
    let retried = get_item(
        &tasks,
        json!({"Retry": [{"ErrorEquals": ["DynamoDB.ThrottlingException"],
                          "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0,
                          "MaxDelaySeconds": 1}]}),
    )
    .await;
    assert_eq!(
        retried.error.as_deref(),
        Some("DynamoDB.ThrottlingException")
    );
    assert_eq!(seen.0.lock().unwrap().len(), 1 + 3);

    // The SDK integration: DynamoDb.
    let sdk = run(
        &task(
            json!({"Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
            "Parameters": {"TableName": "t", "Key": {"id": {"S": "1"}}}}),
        ),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(sdk.error.as_deref(), Some("DynamoDb.ThrottlingException"));
}

#[tokio::test]
async fn the_service_rate_limit_holds_calls() {
    let (endpoint, seen) = stub(axum::routing::post(answer)).await;
    let vars = keys(&endpoint);
    let mut config = TasksConfig::default();
    config.rate_limits.insert("aws:dynamodb".into(), 2);
    let tasks = integrations(&config, &as_refs(&vars));
    let put = task(json!({"Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {"TableName": "t", "Item": {"id": {"S": "1"}}}}));
    let started = Instant::now();
    for _ in 0..4 {
        let outcome = run(&put, json!({}), MachineType::Express, &tasks).await;
        assert_eq!(outcome.status, Status::Succeeded, "{outcome:?}");
    }
    // Burst of 2, then 2 per second: the 3rd and 4th calls wait about a second in total.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen.0.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_result_over_the_payload_limit_is_refused() {
    let (endpoint, _) = stub(axum::routing::post(answer)).await;
    let vars = keys(&endpoint);
    let tasks = integrations(&TasksConfig::default(), &as_refs(&vars));
    let outcome = get_item(&tasks, json!({})).await;
    assert_eq!(
        outcome.error.as_deref(),
        Some("States.DataLimitExceeded"),
        "{outcome:?}"
    );
    // A 200 that is not the protocol's JSON: the SDK's client error, not a result.
    let scan = run(
        &task(json!({"Resource": "arn:aws:states:::aws-sdk:dynamodb:scan",
            "Parameters": {"TableName": "t"}})),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(
        scan.error.as_deref(),
        Some("DynamoDb.SdkClientException"),
        "{scan:?}"
    );
    assert!(scan.cause.unwrap().contains("not JSON"));
}

#[tokio::test]
async fn unreachable_endpoints_missing_regions_and_unknown_resources() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let vars = keys(&endpoint);
    let tasks = integrations(&TasksConfig::default(), &as_refs(&vars));
    let outcome = get_item(&tasks, json!({})).await;
    assert_eq!(
        outcome.error.as_deref(),
        Some("DynamoDB.SdkClientException")
    );
    assert!(outcome.cause.unwrap().contains("could not connect"));

    let no_region = integrations(
        &TasksConfig::default(),
        &[("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")],
    );
    let outcome = get_item(&no_region, json!({})).await;
    assert_eq!(
        outcome.error.as_deref(),
        Some("DynamoDB.SdkClientException")
    );
    assert!(outcome.cause.unwrap().contains("AWS_REGION"));

    let no_credentials = integrations(
        &TasksConfig::default(),
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    );
    let outcome = get_item(&no_credentials, json!({})).await;
    assert_eq!(
        outcome.error.as_deref(),
        Some("DynamoDB.SdkClientException")
    );
    assert!(outcome
        .cause
        .unwrap()
        .contains("Unable to load AWS credentials"));

    for (resource, says) in [
        (
            "arn:aws:states:::aws-sdk:ec2:describeInstances",
            "not supported",
        ),
        ("arn:aws:states:::aws-sdk:dynamodb", "SERVICE:action"),
        ("arn:aws:states:::aws-sdk:dynamodb:GetItem", "camelCase"),
        ("arn:aws:states:::sqs:receiveMessage", "No integration"),
    ] {
        let outcome = run(
            &task(json!({"Resource": resource, "Parameters": {}})),
            json!({}),
            MachineType::Express,
            &tasks,
        )
        .await;
        assert_eq!(
            outcome.error.as_deref(),
            Some("States.TaskFailed"),
            "{resource}"
        );
        let cause = outcome.cause.unwrap();
        assert!(cause.contains(says), "{resource}: {cause}");
    }
}

#[test]
fn bad_endpoint_configuration_is_refused_at_startup() {
    let mut config = TasksConfig::default();
    config
        .aws
        .endpoints
        .insert("dynamo".into(), "http://x".into());
    let error = Integrations::with_env(
        &config,
        None,
        CallbackRegistry::new(Arc::new(SystemClock), common::keys()),
        &env(&[]),
    )
    .err()
    .expect("refused");
    assert!(
        error.to_string().contains("aws.endpoints.dynamo"),
        "{error}"
    );
    let error = Integrations::with_env(
        &TasksConfig::default(),
        None,
        CallbackRegistry::new(Arc::new(SystemClock), common::keys()),
        &env(&[("AWS_ENDPOINT_URL_SQS", "not a url")]),
    )
    .err()
    .expect("refused");
    assert!(error.to_string().contains("sqs endpoint"), "{error}");
}

#[tokio::test]
async fn aws_sdk_lambda_invoke_on_the_lambda_compatible_server() {
    let (server, functions) = lambda_server().await;
    functions.add("sdk", "echo", json!({"behaviour": "identity"}));
    let mut config = TasksConfig::default();
    config
        .aws
        .endpoints
        .insert("lambda".into(), format!("{server}/sdk"));
    let tasks = integrations(
        &config,
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDLAMBDA"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    );
    let outcome = run(
        &task(json!({"Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
            "Parameters": {"FunctionName": "echo", "Payload": {"n": 1}}})),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(outcome.status, Status::Succeeded, "{outcome:?}");
    let output = outcome.output.unwrap();
    assert_eq!(
        output,
        json!({"ExecutedVersion": "$LATEST", "Payload": "{\"n\":1}", "StatusCode": 200})
    );
    let seen = functions.seen.lock().unwrap().clone();
    let auth = seen[0]["authorization"].to_str().unwrap();
    assert!(auth.contains("/us-east-1/lambda/aws4_request"), "{auth}");

    let missing = run(
        &task(json!({"Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
            "Parameters": {"FunctionName": "absent"}})),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(
        missing.error.as_deref(),
        Some("Lambda.ResourceNotFoundException"),
        "{missing:?}"
    );
}

//! The API end to end on an in-memory gateway (no Kafka): AWS JSON 1.0 requests in, AWS
//! shapes out; malformed and oversized requests answered with AWS-shaped errors.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gateway::config::GatewayConfig;
use gateway::publish::MemoryPublisher;
use gateway::Gateway;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"ok":true},"ResultPath":"$.r","End":true}}}"#;
const ARN: &str = "arn:aws:states:local:000000000000:stateMachine:orders";

fn gateway() -> (Arc<Gateway>, Arc<MemoryPublisher>) {
    let (gateway, publisher) =
        Gateway::in_memory(keyed(GatewayConfig::default())).expect("gateway");
    (Arc::new(gateway), publisher)
}

async fn raw(gateway: &Arc<Gateway>, target: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = Request::post("/").header("content-type", "application/x-amz-json-1.0");
    if let Some(target) = target {
        request = request.header("x-amz-target", format!("AWSStepFunctions.{target}"));
    }
    let response = gateway
        .clone()
        .router()
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

async fn call(gateway: &Arc<Gateway>, target: &str, body: Value) -> (StatusCode, Value) {
    raw(gateway, Some(target), body.to_string().into_bytes()).await
}

async fn create(gateway: &Arc<Gateway>) {
    let (status, body) = call(
        gateway,
        "CreateStateMachine",
        json!({"name": "orders", "definition": PASS, "roleArn": "arn:aws:iam::000000000000:role/r", "type": "EXPRESS",
               "loggingConfiguration": {"level": "ALL", "includeExecutionData": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stateMachineArn"], ARN);
    assert!(body["creationDate"].is_f64() || body["creationDate"].is_u64());
}

#[tokio::test]
async fn state_machine_lifecycle() {
    let (gateway, publisher) = gateway();
    create(&gateway).await;
    // The registry record is a worker's RegistryEntry.
    let records = publisher.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].topic, "quickstep.state-machines");
    assert_eq!(records[0].key, "orders");
    let entry: runtime::registry::RegistryEntry =
        serde_json::from_slice(records[0].payload.as_deref().expect("value")).expect("entry");
    assert_eq!(entry.level.as_deref(), Some("ALL"));
    assert!(entry.include_execution_data);

    // An identical create is idempotent; a different one conflicts.
    let (status, _) = call(
        &gateway,
        "CreateStateMachine",
        json!({"name": "orders", "definition": PASS, "roleArn": "arn:aws:iam::000000000000:role/r", "type": "EXPRESS",
               "loggingConfiguration": {"level": "ALL", "includeExecutionData": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &gateway,
        "CreateStateMachine",
        json!({"name": "orders", "definition": PASS, "roleArn": "other", "type": "EXPRESS"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["__type"], "StateMachineAlreadyExists");

    let (_, body) = call(
        &gateway,
        "DescribeStateMachine",
        json!({"stateMachineArn": ARN}),
    )
    .await;
    assert_eq!(body["name"], "orders");
    assert_eq!(body["definition"], PASS);
    assert_eq!(body["type"], "EXPRESS");
    assert_eq!(body["status"], "ACTIVE");
    assert_eq!(body["loggingConfiguration"]["level"], "ALL");

    let other = r#"{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}"#;
    let (status, body) = call(
        &gateway,
        "UpdateStateMachine",
        json!({"stateMachineArn": ARN, "definition": other}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["updateDate"].is_number());
    let (_, body) = call(
        &gateway,
        "DescribeStateMachine",
        json!({"stateMachineArn": ARN}),
    )
    .await;
    assert_eq!(body["definition"], other);

    let (status, _) = call(
        &gateway,
        "DeleteStateMachine",
        json!({"stateMachineArn": ARN}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(publisher.records().last().expect("tombstone").payload, None);
    let (_, body) = call(
        &gateway,
        "DescribeStateMachine",
        json!({"stateMachineArn": ARN}),
    )
    .await;
    assert_eq!(body["__type"], "StateMachineDoesNotExist");
}

#[tokio::test]
async fn definitions_types_and_names_are_checked() {
    let (gateway, publisher) = gateway();
    let (_, body) = call(
        &gateway,
        "CreateStateMachine",
        json!({"name": "bad", "definition": r#"{"StartAt":"X","States":{}}"#, "roleArn": "r", "type": "EXPRESS"}),
    )
    .await;
    assert_eq!(body["__type"], "InvalidDefinition");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Invalid State Machine Definition: '"));
    let (_, body) = call(
        &gateway,
        "CreateStateMachine",
        json!({"name": "std", "definition": PASS, "roleArn": "r", "type": "STANDARD"}),
    )
    .await;
    assert_eq!(body["__type"], "StateMachineTypeNotSupported");
    let (_, body) = call(
        &gateway,
        "CreateStateMachine",
        json!({"name": "a b", "definition": PASS, "roleArn": "r"}),
    )
    .await;
    assert_eq!(body["__type"], "InvalidName");
    let (_, body) = call(
        &gateway,
        "DescribeStateMachine",
        json!({"stateMachineArn": "nope"}),
    )
    .await;
    assert_eq!(body["__type"], "InvalidArn");
    assert!(publisher.records().is_empty(), "nothing invalid is written");
}

#[tokio::test]
async fn lists_page_by_name() {
    let (gateway, _) = gateway();
    for name in ["c", "a", "b", "e", "d"] {
        let (status, _) = call(
            &gateway,
            "CreateStateMachine",
            json!({"name": name, "definition": PASS, "roleArn": "r", "type": "EXPRESS"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = json!({"maxResults": 2});
        if let Some(token) = &token {
            request["nextToken"] = token.clone().into();
        }
        let (_, body) = call(&gateway, "ListStateMachines", request).await;
        pages += 1;
        for machine in body["stateMachines"].as_array().expect("list") {
            names.push(machine["name"].as_str().expect("name").to_owned());
            assert_eq!(machine["type"], "EXPRESS");
        }
        match body["nextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
    let (_, body) = call(&gateway, "ListStateMachines", json!({"nextToken": "zz"})).await;
    assert_eq!(body["__type"], "InvalidToken");
    let (_, body) = call(&gateway, "ListStateMachines", json!({"maxResults": 5000})).await;
    assert_eq!(body["__type"], "ValidationException");
}

#[tokio::test]
async fn validates_with_aws_diagnostics() {
    let (gateway, _) = gateway();
    let (_, body) = call(
        &gateway,
        "ValidateStateMachineDefinition",
        json!({"definition": PASS, "type": "EXPRESS"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"result": "OK", "diagnostics": [], "truncated": false})
    );
    let (_, body) = call(
        &gateway,
        "ValidateStateMachineDefinition",
        json!({"definition": r#"{"States":{"A":{"Type":"Succeed"}}}"#}),
    )
    .await;
    assert_eq!(
        body,
        json!({"result": "FAIL", "diagnostics": [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
               "message": "These fields are required: [StartAt]", "location": "/"}], "truncated": false})
    );
}

#[tokio::test]
async fn sync_executions_answer_the_full_response() {
    let (gateway, _) = gateway();
    create(&gateway).await;
    let (status, body) = call(
        &gateway,
        "StartSyncExecution",
        json!({"stateMachineArn": ARN, "name": "run-1", "input": "{\"a\":1}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["name"], "run-1");
    assert_eq!(
        body["executionArn"],
        "arn:aws:states:local:000000000000:express:orders:run-1"
    );
    assert_eq!(body["stateMachineArn"], ARN);
    let output: Value = serde_json::from_str(body["output"].as_str().expect("text")).expect("json");
    assert_eq!(output, json!({"a": 1, "r": {"ok": true}}));
    assert_eq!(body["input"], "{\"a\":1}");
    assert_eq!(body["billingDetails"]["billedMemoryUsedInMB"], 64);
    assert_eq!(body["billingDetails"]["billedDurationInMilliseconds"], 100);
    assert!(body["stopDate"].as_f64() >= body["startDate"].as_f64());
    assert_eq!(body["inputDetails"], json!({"included": true}));
    assert_eq!(body["outputDetails"], json!({"included": true}));
    // AWS's field order, nothing more.
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "executionArn",
            "stateMachineArn",
            "name",
            "startDate",
            "stopDate",
            "status",
            "input",
            "inputDetails",
            "billingDetails",
            "output",
            "outputDetails"
        ]
    );
    let metrics = gateway.metrics().render();
    assert!(metrics.contains(
        "quickstep_gateway_sync_executions_total{state_machine=\"orders\",status=\"SUCCEEDED\"} 1"
    ));
    assert!(
        metrics.contains("quickstep_worker_executions_started_total{state_machine=\"orders\"} 1")
    );
}

#[tokio::test]
async fn a_failed_sync_execution_answers_its_error_and_cause_without_output() {
    let (gateway, _) = gateway();
    let fail =
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Oops","Cause":"on purpose"}}}"#;
    let (status, body) = call(
        &gateway,
        "CreateStateMachine",
        json!({"name": "failing", "definition": fail, "roleArn": "arn:aws:iam::000000000000:role/r", "type": "EXPRESS"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &gateway,
        "StartSyncExecution",
        json!({"stateMachineArn": "arn:aws:states:local:000000000000:stateMachine:failing"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "FAILED");
    assert_eq!(body["error"], "Oops");
    assert_eq!(body["cause"], "on purpose");
    assert_eq!(body["input"], "{}");
    assert!(body.get("output").is_none(), "{body}");
    assert!(body.get("outputDetails").is_none(), "{body}");
}

#[tokio::test]
async fn start_execution_produces_a_start_record() {
    let (gateway, publisher) = gateway();
    create(&gateway).await;
    let (status, body) = call(
        &gateway,
        "StartExecution",
        json!({"stateMachineArn": ARN, "name": "order-7", "input": "{\"id\":7}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["executionArn"],
        "arn:aws:states:local:000000000000:express:orders:order-7"
    );
    assert!(body["startDate"].is_number());
    let record = publisher.records().pop().expect("start record");
    assert_eq!(record.topic, "quickstep.start");
    assert_eq!(record.key, "order-7");
    assert_eq!(record.payload.as_deref(), Some(&b"{\"id\":7}"[..]));
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("quickstep-state-machine").as_deref(), Some("orders"));
    assert_eq!(
        header("quickstep-execution-name").as_deref(),
        Some("order-7")
    );
    assert!(header("traceparent").is_some_and(|t| t.starts_with("00-") && t.len() == 55));

    // Without a name: a generated UUID is the name and the key.
    let (_, body) = call(&gateway, "StartExecution", json!({"stateMachineArn": ARN})).await;
    let arn = body["executionArn"].as_str().expect("arn");
    let name = arn.rsplit(':').next().expect("name");
    assert_eq!(name.len(), 36);
    assert_eq!(publisher.records().pop().expect("record").key, name);
}

#[tokio::test]
async fn execution_errors() {
    let (gateway, _) = gateway();
    create(&gateway).await;
    let missing = "arn:aws:states:local:000000000000:stateMachine:missing";
    for target in ["StartExecution", "StartSyncExecution"] {
        let (_, body) = call(&gateway, target, json!({"stateMachineArn": missing})).await;
        assert_eq!(body["__type"], "StateMachineDoesNotExist", "{target}");
        let (_, body) = call(
            &gateway,
            target,
            json!({"stateMachineArn": ARN, "input": "{"}),
        )
        .await;
        assert_eq!(body["__type"], "InvalidExecutionInput", "{target}");
        let big = format!("\"{}\"", "x".repeat(262_144));
        let (_, body) = call(
            &gateway,
            target,
            json!({"stateMachineArn": ARN, "input": big}),
        )
        .await;
        assert_eq!(body["__type"], "InvalidExecutionInput", "{target}");
        let (_, body) = call(
            &gateway,
            target,
            json!({"stateMachineArn": ARN, "name": "a/b"}),
        )
        .await;
        assert_eq!(body["__type"], "InvalidName", "{target}");
        let (_, body) = call(&gateway, target, json!({"stateMachineArn": "x"})).await;
        assert_eq!(body["__type"], "InvalidArn", "{target}");
        let (_, body) = call(&gateway, target, json!({})).await;
        assert_eq!(body["__type"], "SerializationException", "{target}");
    }
}

/// Registers the Pass machine as `name`.
async fn create_named(gateway: &Arc<Gateway>, name: &str) -> String {
    let (status, body) = call(
        gateway,
        "CreateStateMachine",
        json!({"name": name, "definition": PASS, "roleArn": "arn:aws:iam::000000000000:role/r"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["stateMachineArn"].as_str().expect("arn").to_owned()
}

/// Sends `n` starts in a row; returns how many were throttled, checking every answer is a
/// success or AWS's ThrottlingException (400, `__type`, "Rate exceeded").
async fn throttled_of(gateway: &Arc<Gateway>, target: &str, arn: &str, n: usize) -> usize {
    let mut throttled = 0;
    for _ in 0..n {
        let (status, body) = call(gateway, target, json!({"stateMachineArn": arn})).await;
        if status == StatusCode::OK {
            continue;
        }
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["__type"], "ThrottlingException", "{body}");
        let message = body["message"].as_str().expect("a message");
        assert!(message.starts_with("Rate exceeded"), "{message}");
        throttled += 1;
    }
    throttled
}

/// Bursts far over the rate (20 calls where 3 per second are allowed, in well under a
/// second): whatever the machine's speed, the first 3 pass and some are refused; counts
/// are compared with what was seen, so the test needs no clock.
#[tokio::test]
async fn start_rates_throttle_one_state_machine_only() {
    let config = GatewayConfig {
        start_rates_per_second: [("orders".to_owned(), 3)].into(),
        ..GatewayConfig::default()
    };
    let (gateway, publisher) = Gateway::in_memory(keyed(config)).expect("gateway");
    let gateway = Arc::new(gateway);
    let orders = create_named(&gateway, "orders").await;
    let billing = create_named(&gateway, "billing").await;

    let async_throttled = throttled_of(&gateway, "StartExecution", &orders, 20).await;
    assert!((1..=17).contains(&async_throttled), "{async_throttled}");
    let starts = publisher
        .records()
        .iter()
        .filter(|r| r.topic == "quickstep.start")
        .count();
    assert_eq!(
        starts,
        20 - async_throttled,
        "a throttled start produces nothing"
    );
    let sync_throttled = throttled_of(&gateway, "StartSyncExecution", &orders, 20).await;
    assert!(sync_throttled >= 1, "the same bucket: {sync_throttled}");

    // No rate for billing and no default: never throttled.
    assert_eq!(
        throttled_of(&gateway, "StartExecution", &billing, 200).await,
        0
    );
    assert_eq!(
        throttled_of(&gateway, "StartSyncExecution", &billing, 50).await,
        0
    );

    let metrics = gateway.metrics().render();
    for line in [
        format!("quickstep_gateway_throttled_total{{operation=\"StartExecution\"}} {async_throttled}"),
        format!("quickstep_gateway_throttled_total{{operation=\"StartSyncExecution\"}} {sync_throttled}"),
        format!(
            "quickstep_gateway_executions_throttled_total{{state_machine=\"orders\"}} {}",
            async_throttled + sync_throttled
        ),
    ] {
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(!metrics.contains("executions_throttled_total{state_machine=\"billing\"}"));
}

#[tokio::test]
async fn the_default_start_rate_applies_to_machines_without_their_own() {
    let config = GatewayConfig {
        start_rate_per_second: Some(2),
        start_rates_per_second: [("orders".to_owned(), 100_000)].into(),
        ..GatewayConfig::default()
    };
    let (gateway, _) = Gateway::in_memory(keyed(config)).expect("gateway");
    let gateway = Arc::new(gateway);
    let orders = create_named(&gateway, "orders").await;
    let billing = create_named(&gateway, "billing").await;
    let shipping = create_named(&gateway, "shipping").await;
    assert!(throttled_of(&gateway, "StartExecution", &billing, 20).await >= 1);
    // Each machine has a bucket of its own: billing's empty one does not hold shipping back.
    let (status, body) = call(
        &gateway,
        "StartExecution",
        json!({"stateMachineArn": shipping}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        throttled_of(&gateway, "StartExecution", &orders, 200).await,
        0
    );
    // Unknown machines are not throttled (nor counted): they do not exist.
    let (_, body) = call(
        &gateway,
        "StartExecution",
        json!({"stateMachineArn": "arn:aws:states:local:000000000000:stateMachine:nope"}),
    )
    .await;
    assert_eq!(body["__type"], "StateMachineDoesNotExist");
}

#[tokio::test]
/// Tokens no sync execution of this gateway holds go to the topic, in the worker's
/// `CallbackMessage` form (the worker that holds the token reads it there).
async fn callbacks_go_to_the_callbacks_topic() {
    let (gateway, publisher) = gateway();
    let t1 = genuine_token(TEST_TOKEN_KEY);
    let (status, _) = call(
        &gateway,
        "SendTaskSuccess",
        json!({"taskToken": t1, "output": "{\"x\":1}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let record = publisher.records().pop().expect("record");
    assert_eq!(record.topic, "quickstep.callbacks");
    let value: Value =
        serde_json::from_slice(record.payload.as_deref().expect("value")).expect("json");
    assert_eq!(
        value,
        json!({"action": "SendTaskSuccess", "taskToken": t1, "output": "{\"x\":1}"})
    );
    call(
        &gateway,
        "SendTaskFailure",
        json!({"taskToken": t1, "error": "E", "cause": "C"}),
    )
    .await;
    let value: Value = serde_json::from_slice(
        publisher
            .records()
            .pop()
            .expect("record")
            .payload
            .as_deref()
            .expect("value"),
    )
    .expect("json");
    assert_eq!(
        value,
        json!({"action": "SendTaskFailure", "taskToken": t1, "error": "E", "cause": "C"})
    );
    call(&gateway, "SendTaskHeartbeat", json!({"taskToken": t1})).await;
    assert_eq!(publisher.records().len(), 3);
    let (_, body) = call(
        &gateway,
        "SendTaskSuccess",
        json!({"taskToken": t1, "output": "nope"}),
    )
    .await;
    assert_eq!(body["__type"], "InvalidOutput");
    let (_, body) = call(
        &gateway,
        "SendTaskSuccess",
        json!({"taskToken": "", "output": "{}"}),
    )
    .await;
    assert_eq!(body["__type"], "InvalidToken");
}

#[tokio::test]
/// A token this gateway did not sign is InvalidToken before anything happens: nothing goes
/// to the callbacks topic. One signed with the previous key is still accepted.
async fn forged_or_altered_tokens_are_invalid_before_any_look_up() {
    const PREVIOUS: &str = "the-key-before-the-gateway-tests-key-32-bytes";
    let (gateway, publisher) = Gateway::in_memory(GatewayConfig {
        task_token_previous_key: Some(runtime::task_token::TaskTokenSecret::new(PREVIOUS)),
        ..keyed(GatewayConfig::default())
    })
    .expect("gateway");
    let gateway = Arc::new(gateway);
    let genuine = genuine_token(TEST_TOKEN_KEY);
    let mut altered = genuine.clone().into_bytes();
    altered[30] = if altered[30] == b'x' { b'y' } else { b'x' };
    let altered = String::from_utf8(altered).unwrap();
    let unknown_key = genuine_token("a-key-this-deployment-never-had-32-bytes");
    for token in [
        altered.as_str(),
        unknown_key.as_str(),
        "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0",
        "token-1",
    ] {
        for (operation, input) in [
            (
                "SendTaskSuccess",
                json!({"taskToken": token, "output": "{}"}),
            ),
            ("SendTaskFailure", json!({"taskToken": token, "error": "E"})),
            ("SendTaskHeartbeat", json!({"taskToken": token})),
        ] {
            let (status, body) = call(&gateway, operation, input).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{operation} {token}");
            assert_eq!(body["__type"], "InvalidToken", "{operation} {token}");
        }
    }
    assert!(publisher.records().is_empty(), "nothing reached the topic");
    for token in [genuine, genuine_token(PREVIOUS)] {
        let (status, _) = call(&gateway, "SendTaskHeartbeat", json!({"taskToken": token})).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(publisher.records().len(), 2);
}

#[tokio::test]
async fn malformed_requests_get_aws_errors() {
    let (gateway, _) = gateway();
    let (status, body) = raw(&gateway, None, b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["__type"], "UnknownOperationException");
    let (_, body) = raw(&gateway, Some("DoSomething"), b"{}".to_vec()).await;
    assert_eq!(body["__type"], "UnknownOperationException");
    let (_, body) = raw(&gateway, Some("ListStateMachines"), b"{not json".to_vec()).await;
    assert_eq!(body["__type"], "SerializationException");
    let (_, body) = raw(&gateway, Some("ListStateMachines"), b"[]".to_vec()).await;
    assert_eq!(body["__type"], "SerializationException");
    let (_, body) = raw(
        &gateway,
        Some("ListStateMachines"),
        b"{\"maxResults\":\"x\"}".to_vec(),
    )
    .await;
    assert_eq!(body["__type"], "SerializationException");
    let (_, body) = raw(&gateway, Some("ListStateMachines"), vec![0xff, 0xfe]).await;
    assert_eq!(body["__type"], "SerializationException");
    let (status, body) = raw(
        &gateway,
        Some("ListStateMachines"),
        vec![b' '; 3 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["__type"], "RequestEntityTooLargeException");
    // An empty body is `{}`.
    let (status, _) = raw(&gateway, Some("ListStateMachines"), Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests() {
    let (gateway, _) = gateway();
    call(&gateway, "ListStateMachines", json!({})).await;
    raw(&gateway, Some("Nope"), Vec::new()).await;
    let metrics = gateway.metrics().render();
    assert!(metrics.contains(
        "quickstep_gateway_requests_total{operation=\"ListStateMachines\",status=\"200\"} 1"
    ));
    assert!(metrics
        .contains("quickstep_gateway_requests_total{operation=\"Unknown\",status=\"400\"} 1"));
    assert!(metrics.contains(
        "quickstep_gateway_request_duration_seconds_bucket{operation=\"ListStateMachines\""
    ));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes, under any operation: an answer with an AWS-shaped error or a success,
    /// never a panic.
    #[test]
    fn any_body_gets_an_aws_answer(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        target in prop::sample::select(vec![
            "CreateStateMachine", "DescribeStateMachine", "UpdateStateMachine", "DeleteStateMachine",
            "ListStateMachines", "ValidateStateMachineDefinition", "StartExecution",
            "StartSyncExecution", "TestState", "SendTaskSuccess", "SendTaskFailure",
            "SendTaskHeartbeat", "Bogus",
        ]),
    ) {
        let (gateway, _) = gateway();
        let (status, value) = runtime().block_on(raw(&gateway, Some(target), body));
        if status != StatusCode::OK {
            prop_assert!(value["__type"].is_string(), "{status} {value}");
            prop_assert!(value["message"].is_string());
        }
    }

    /// JSON objects of arbitrary fields and shapes: same.
    #[test]
    fn any_json_object_gets_an_aws_answer(
        fields in proptest::collection::btree_map(
            prop::sample::select(vec!["name", "definition", "stateMachineArn", "input", "type",
                "maxResults", "nextToken", "taskToken", "output", "roleArn", "loggingConfiguration",
                "inspectionLevel", "stateName", "variables"]),
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                "[ -~]{0,40}".prop_map(Value::from),
                Just(Value::from(PASS)),
                Just(Value::from(ARN)),
                Just(json!({"level": "ALL"})),
                Just(json!([1, 2])),
            ],
            0..6,
        ),
        target in prop::sample::select(vec![
            "CreateStateMachine", "DescribeStateMachine", "UpdateStateMachine", "DeleteStateMachine",
            "ListStateMachines", "ValidateStateMachineDefinition", "StartExecution",
            "StartSyncExecution", "TestState", "SendTaskSuccess", "SendTaskFailure",
        ]),
    ) {
        let (gateway, _) = gateway();
        let body = serde_json::to_vec(&fields).expect("renders");
        let (status, value) = runtime().block_on(raw(&gateway, Some(target), body));
        if status != StatusCode::OK {
            prop_assert!(value["__type"].is_string(), "{status} {value}");
        }
    }
}

/// A configuration with the deployment's task token key (every gateway needs one).
fn keyed(config: GatewayConfig) -> GatewayConfig {
    GatewayConfig {
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(TEST_TOKEN_KEY)),
        ..config
    }
}

const TEST_TOKEN_KEY: &str = "the-gateway-tests-task-token-key-32-bytes";

/// A token as a worker with `key` mints it.
fn genuine_token(key: &str) -> String {
    runtime::task_token::TaskTokenKeys::from_config(
        Some(&runtime::task_token::TaskTokenSecret::new(key)),
        None,
    )
    .expect("key")
    .mint("arn:aws:states:local:000000000000:express:orders:one")
}

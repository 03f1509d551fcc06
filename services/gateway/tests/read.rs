//! The read APIs on an in-memory gateway with a store: sync executions publish their result
//! and history records (what a Kafka gateway produces), the test feeds those records to the
//! store as its Kafka reader would, and ListExecutions, DescribeExecution,
//! GetExecutionHistory and DescribeStateMachineForExecution answer in AWS's shapes.

mod support;
use support::call;

use axum::http::StatusCode;
use gateway::config::GatewayConfig;
use gateway::publish::MemoryPublisher;
use gateway::Gateway;
use serde_json::{json, Value};
use std::sync::Arc;

const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"ok":true},"ResultPath":"$.r","Next":"B"},"B":{"Type":"Succeed"}}}"#;
const FAIL: &str =
    r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Oops","Cause":"on purpose"}}}"#;
const ACCOUNT: &str = "arn:aws:states:local:000000000000:";

fn config(store: &str) -> GatewayConfig {
    GatewayConfig {
        store: store.into(),
        history: "kafka:quickstep.history".into(),
        history_level: "ALL".into(),
        include_execution_data: true,
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(
            "the-read-api-tests-task-token-key-32-bytes",
        )),
        ..GatewayConfig::default()
    }
}

async fn ok(gateway: &Arc<Gateway>, target: &str, body: Value) -> Value {
    let (status, answer) = call(gateway, target, body).await;
    assert_eq!(status, StatusCode::OK, "{target}: {answer}");
    answer
}

async fn error(gateway: &Arc<Gateway>, target: &str, body: Value) -> String {
    let (status, answer) = call(gateway, target, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{target}: {answer}");
    answer["__type"].as_str().expect("a type").to_owned()
}

/// JSON text (AWS carries inputs and outputs as strings), parsed.
fn parsed(text: &Value) -> Value {
    serde_json::from_str(text.as_str().expect("JSON text")).expect("JSON")
}

/// Applies every published result and history record to the store, as its reader would.
fn ingest(gateway: &Gateway, publisher: &MemoryPublisher) -> usize {
    let topics = store::ingest::Topics {
        results: "quickstep.results".into(),
        history: Some("quickstep.history".into()),
    };
    let records: Vec<store::Record> = publisher
        .records()
        .iter()
        .filter_map(|r| topics.decode(&r.topic, Some(r.key.as_bytes()), r.payload.as_deref()))
        .map(|r| r.expect("the gateway publishes records the store reads"))
        .collect();
    gateway
        .store()
        .expect("a store")
        .apply(&records)
        .expect("applies");
    records.len()
}

async fn setup() -> (Arc<Gateway>, Arc<MemoryPublisher>) {
    let (gateway, publisher) = Gateway::in_memory(config("memory")).expect("gateway");
    let gateway = Arc::new(gateway);
    for (name, definition) in [("pass", PASS), ("fail", FAIL)] {
        ok(
            &gateway,
            "CreateStateMachine",
            json!({"name": name, "definition": definition,
            "roleArn": "arn:aws:iam::000000000000:role/r", "type": "EXPRESS"}),
        )
        .await;
    }
    for name in ["p1", "p2", "p3"] {
        let out = ok(
            &gateway,
            "StartSyncExecution",
            json!({"stateMachineArn": format!("{ACCOUNT}stateMachine:pass"),
            "name": name, "input": "{\"n\": 1}"}),
        )
        .await;
        assert_eq!(out["status"], "SUCCEEDED");
    }
    let out = ok(
        &gateway,
        "StartSyncExecution",
        json!({"stateMachineArn": format!("{ACCOUNT}stateMachine:fail"), "name": "f1"}),
    )
    .await;
    assert_eq!(out["status"], "FAILED");
    let applied = ingest(&gateway, &publisher);
    assert!(applied > 4, "results and history were published: {applied}");
    (gateway, publisher)
}

#[tokio::test]
async fn sync_executions_are_listed_newest_first_with_pages_and_filters() {
    let (gateway, _) = setup().await;
    let pass = format!("{ACCOUNT}stateMachine:pass");
    let all = ok(&gateway, "ListExecutions", json!({"stateMachineArn": pass})).await;
    let names: Vec<&str> = all["executions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 3);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["p1", "p2", "p3"]);
    let first = &all["executions"][0];
    assert_eq!(first["stateMachineArn"], pass);
    assert_eq!(first["status"], "SUCCEEDED");
    assert!(
        first["startDate"].is_number() && first["stopDate"].is_number(),
        "{first}"
    );
    assert!(all.get("nextToken").is_none());

    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"stateMachineArn": pass, "maxResults": 1});
        if let Some(token) = &token {
            body["nextToken"] = token.clone().into();
        }
        let page = ok(&gateway, "ListExecutions", body).await;
        paged.extend(
            page["executions"]
                .as_array()
                .expect("list")
                .iter()
                .map(|e| e["name"].as_str().expect("name").to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, names);

    let fail = format!("{ACCOUNT}stateMachine:fail");
    let failed = ok(
        &gateway,
        "ListExecutions",
        json!({"stateMachineArn": fail, "statusFilter": "FAILED"}),
    )
    .await;
    assert_eq!(failed["executions"][0]["name"], "f1");
    let none = ok(
        &gateway,
        "ListExecutions",
        json!({"stateMachineArn": pass, "statusFilter": "FAILED"}),
    )
    .await;
    assert_eq!(none["executions"], json!([]));
    let redrive = ok(
        &gateway,
        "ListExecutions",
        json!({"stateMachineArn": pass, "statusFilter": "PENDING_REDRIVE"}),
    )
    .await;
    assert_eq!(redrive["executions"], json!([]));

    assert_eq!(
        error(
            &gateway,
            "ListExecutions",
            json!({"stateMachineArn": pass, "statusFilter": "DONE"})
        )
        .await,
        "ValidationException"
    );
    assert_eq!(
        error(
            &gateway,
            "ListExecutions",
            json!({"stateMachineArn": pass, "maxResults": 1001})
        )
        .await,
        "ValidationException"
    );
    assert_eq!(
        error(
            &gateway,
            "ListExecutions",
            json!({"stateMachineArn": pass, "nextToken": "bogus"})
        )
        .await,
        "InvalidToken"
    );
    assert_eq!(
        error(&gateway, "ListExecutions", json!({})).await,
        "ValidationException"
    );
    assert_eq!(
        error(
            &gateway,
            "ListExecutions",
            json!({"stateMachineArn": "nope"})
        )
        .await,
        "InvalidArn"
    );
    assert_eq!(
        error(
            &gateway,
            "ListExecutions",
            json!({"stateMachineArn": format!("{ACCOUNT}stateMachine:missing")})
        )
        .await,
        "StateMachineDoesNotExist"
    );
}

#[tokio::test]
async fn executions_are_described_with_input_output_and_errors() {
    let (gateway, _) = setup().await;
    let p1 = format!("{ACCOUNT}express:pass:p1");
    let described = ok(&gateway, "DescribeExecution", json!({"executionArn": p1})).await;
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(described["name"], "p1");
    assert_eq!(parsed(&described["input"]), json!({"n": 1}));
    assert_eq!(described["inputDetails"], json!({"included": true}));
    let output: Value =
        serde_json::from_str(described["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(output, json!({"n": 1, "r": {"ok": true}}));
    let f1 = ok(
        &gateway,
        "DescribeExecution",
        json!({"executionArn": format!("{ACCOUNT}express:fail:f1")}),
    )
    .await;
    assert_eq!(
        (
            f1["status"].as_str(),
            f1["error"].as_str(),
            f1["cause"].as_str()
        ),
        (Some("FAILED"), Some("Oops"), Some("on purpose"))
    );
    assert!(f1.get("output").is_none());

    let missing = json!({"executionArn": format!("{ACCOUNT}express:pass:nobody")});
    assert_eq!(
        error(&gateway, "DescribeExecution", missing.clone()).await,
        "ExecutionDoesNotExist"
    );
    assert_eq!(
        error(&gateway, "GetExecutionHistory", missing.clone()).await,
        "ExecutionDoesNotExist"
    );
    assert_eq!(
        error(&gateway, "DescribeStateMachineForExecution", missing).await,
        "ExecutionDoesNotExist"
    );
    assert_eq!(
        error(
            &gateway,
            "DescribeExecution",
            json!({"executionArn": "arn:nope"})
        )
        .await,
        "InvalidArn"
    );

    let machine = ok(
        &gateway,
        "DescribeStateMachineForExecution",
        json!({"executionArn": p1}),
    )
    .await;
    assert_eq!(
        machine["stateMachineArn"],
        format!("{ACCOUNT}stateMachine:pass")
    );
    assert_eq!(machine["definition"], PASS);
    assert!(machine["updateDate"].is_number());
}

#[tokio::test]
async fn history_pages_both_ways_in_aws_shapes() {
    let (gateway, _) = setup().await;
    let p1 = format!("{ACCOUNT}express:pass:p1");
    let history = ok(&gateway, "GetExecutionHistory", json!({"executionArn": p1})).await;
    let events = history["events"].as_array().expect("events");
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
    assert!(types.contains(&"PassStateEntered"), "{types:?}");
    assert_eq!(events[0]["id"], 1);
    assert_eq!(events[0]["previousEventId"], 0);
    assert_eq!(
        parsed(&events[0]["executionStartedEventDetails"]["input"]),
        json!({"n": 1})
    );
    let entered = events
        .iter()
        .find(|e| e["type"] == "PassStateEntered")
        .expect("entered");
    assert_eq!(entered["stateEnteredEventDetails"]["name"], "A");

    let reversed = ok(
        &gateway,
        "GetExecutionHistory",
        json!({"executionArn": p1, "reverseOrder": true}),
    )
    .await;
    let ids: Vec<i64> = reversed["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    assert_eq!(ids.len(), events.len());

    let mut paged = Vec::new();
    let mut body = json!({"executionArn": p1, "maxResults": 2});
    loop {
        let page = ok(&gateway, "GetExecutionHistory", body.clone()).await;
        paged.extend(
            page["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| e["id"].as_i64().expect("id")),
        );
        match page["nextToken"].as_str() {
            Some(token) => body["nextToken"] = token.into(),
            None => break,
        }
    }
    assert_eq!(paged, (1..=events.len() as i64).collect::<Vec<_>>());

    let bare = ok(
        &gateway,
        "GetExecutionHistory",
        json!({"executionArn": p1, "includeExecutionData": false}),
    )
    .await;
    assert!(
        bare["events"][0]["executionStartedEventDetails"]
            .get("input")
            .is_none(),
        "{bare}"
    );
    assert_eq!(
        error(
            &gateway,
            "GetExecutionHistory",
            json!({"executionArn": p1, "nextToken": "x"})
        )
        .await,
        "InvalidToken"
    );
}

#[tokio::test]
async fn without_a_store_the_read_apis_say_so() {
    let (gateway, publisher) = Gateway::in_memory(config("off")).expect("gateway");
    let gateway = Arc::new(gateway);
    assert!(gateway.store().is_none());
    let (status, answer) = call(
        &gateway,
        "DescribeExecution",
        json!({"executionArn": format!("{ACCOUNT}express:pass:p1")}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["message"]
            .as_str()
            .expect("message")
            .contains("store"),
        "{answer}"
    );
    assert!(publisher.records().is_empty());
}

#[tokio::test]
async fn a_gateway_given_another_gateways_store_answers_from_it() {
    let (filled, _) = setup().await;
    let store = filled.store().expect("a store").clone();
    let (bare, _) = Gateway::in_memory(config("off")).expect("gateway");
    let gateway = Arc::new(bare.with_store(store.clone()));
    assert!(Arc::ptr_eq(
        gateway.store().expect("the given store"),
        &store
    ));
    let described = ok(
        &gateway,
        "DescribeExecution",
        json!({"executionArn": format!("{ACCOUNT}express:fail:f1")}),
    )
    .await;
    assert_eq!(described["status"], "FAILED");
    // The machines are the other gateway's: this one lists none of them.
    assert_eq!(
        error(
            &gateway,
            "ListExecutions",
            json!({"stateMachineArn": format!("{ACCOUNT}stateMachine:nothing")}),
        )
        .await,
        "StateMachineDoesNotExist"
    );
}

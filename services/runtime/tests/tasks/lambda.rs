//! Lambda tasks over the Invoke API against a Lambda-compatible server started here:
//! payloads, envelopes, errors, timeouts, and `.waitForTaskToken` calls.

use super::common::{lambda_server, run, task};
use crate::callback::token_of;
use crate::http::integrations;
use asl::validate::MachineType;
use runtime::clock::SystemClock;
use runtime::tasks::callback::{CallbackMessage, CallbackRegistry};
use runtime::tasks::config::TasksConfig;
use runtime::tasks::Integrations;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
pub(crate) fn lambda_tasks(endpoint: &str) -> Integrations {
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

#[tokio::test(start_paused = true)]
async fn lambda_timeouts_are_the_states() {
    let (base, functions) = lambda_server().await;
    functions.add(
        "t",
        "slow",
        json!({"behaviour": "identity", "delay_seconds": 5}),
    );
    let tasks = lambda_tasks(&format!("{base}/t"));
    let started = tokio::time::Instant::now();
    let definition = task(
        json!({"Resource": "arn:aws:lambda:us-east-1:111111111111:function:slow", "TimeoutSeconds": 1}),
    );
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(1100),
        "{waited:?}"
    );
}

#[tokio::test]
async fn lambda_wait_for_task_token_calls_then_waits() {
    let (base, functions) = lambda_server().await;
    functions.add("t", "echo", json!({"behaviour": "identity"}));
    let registry = CallbackRegistry::new(Arc::new(SystemClock), super::common::keys());
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

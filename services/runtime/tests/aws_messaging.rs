//! SQS, SNS, EventBridge and Step Functions against moto: the optimised integrations'
//! results (with AWS's envelope), their SDK twins, and a missing queue / topic / machine
//! named as AWS names them.

mod common;
mod moto;

use asl::validate::MachineType;
use asl::Status;
use common::{call, ok, run, task};
use moto::Moto;
use runtime::clock::SystemClock;
use runtime::tasks::callback::{CallbackMessage, CallbackRegistry};
use runtime::tasks::config::TasksConfig;
use serde_json::{json, Value};
use std::sync::Arc;

/// `md5sum` of `{"order":7}`.
const MD5_OF_ORDER_7: &str = "4db405096ca2c297ffb21aeada277352";

#[tokio::test]
async fn sqs_send_message_and_a_missing_queue() {
    let Some(moto) = Moto::start() else { return };
    let tasks = moto.integrations();
    let created = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:sqs:createQueue",
        json!({"QueueName": "jobs"}),
    )
    .await;
    let url = created["QueueUrl"].as_str().expect("QueueUrl").to_owned();
    let sent = ok(
        &tasks,
        "arn:aws:states:::sqs:sendMessage",
        json!({"QueueUrl": url, "MessageBody": {"order": 7}}),
    )
    .await;
    // An object body is sent as its JSON text: MD5 of `{"order":7}`.
    assert_eq!(sent["MD5OfMessageBody"], MD5_OF_ORDER_7, "{sent}");
    assert!(
        sent["MessageId"].as_str().is_some_and(|id| !id.is_empty()),
        "{sent}"
    );
    assert_eq!(sent["SdkHttpMetadata"]["HttpStatusCode"], 200, "{sent}");
    assert!(
        sent["SdkResponseMetadata"].get("RequestId").is_some(),
        "{sent}"
    );
    let received = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:sqs:receiveMessage",
        json!({"QueueUrl": url, "MaxNumberOfMessages": 1}),
    )
    .await;
    assert_eq!(
        received["Messages"][0]["Body"], "{\"order\":7}",
        "{received}"
    );
    assert_eq!(received["Messages"][0]["MessageId"], sent["MessageId"]);

    let missing = format!("{}/123456789012/nope", moto.endpoint());
    let optimized = call(
        &tasks,
        "arn:aws:states:::sqs:sendMessage",
        json!({"QueueUrl": missing, "MessageBody": "x"}),
    )
    .await;
    assert_eq!(optimized.status, Status::Failed);
    assert_eq!(
        optimized.error.as_deref(),
        Some("SQS.QueueDoesNotExistException"),
        "{optimized:?}"
    );
    let sdk = call(
        &tasks,
        "arn:aws:states:::aws-sdk:sqs:sendMessage",
        json!({"QueueUrl": missing, "MessageBody": "x"}),
    )
    .await;
    assert_eq!(sdk.error.as_deref(), Some("Sqs.QueueDoesNotExistException"));
}

#[tokio::test]
async fn sns_publish_and_a_missing_topic() {
    let Some(moto) = Moto::start() else { return };
    let tasks = moto.integrations();
    let topic = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:sns:createTopic",
        json!({"Name": "news"}),
    )
    .await;
    let arn = topic["TopicArn"].as_str().expect("TopicArn").to_owned();
    assert!(arn.ends_with(":news"), "{topic}");
    let published = ok(
        &tasks,
        "arn:aws:states:::sns:publish",
        json!({"TopicArn": arn, "Message": {"hello": "world"}, "Subject": "s",
               "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "greeting"}}}),
    )
    .await;
    assert!(
        published["MessageId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{published}"
    );
    assert_eq!(published["SdkHttpMetadata"]["HttpStatusCode"], 200);
    let listed = ok(&tasks, "arn:aws:states:::aws-sdk:sns:listTopics", json!({})).await;
    assert_eq!(listed["Topics"][0]["TopicArn"], arn, "{listed}");

    let missing = call(
        &tasks,
        "arn:aws:states:::sns:publish",
        json!({"TopicArn": "arn:aws:sns:us-east-1:123456789012:nope", "Message": "x"}),
    )
    .await;
    assert_eq!(missing.status, Status::Failed);
    assert_eq!(
        missing.error.as_deref(),
        Some("SNS.NotFoundException"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn eventbridge_put_events_and_step_functions_start_execution() {
    let Some(moto) = Moto::start() else { return };
    let tasks = moto.integrations();
    let put = ok(
        &tasks,
        "arn:aws:states:::events:putEvents",
        json!({"Entries": [{"Source": "quickstep.test", "DetailType": "Order",
                            "Detail": {"id": 1}, "EventBusName": "default"}]}),
    )
    .await;
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    assert!(put["Entries"][0]["EventId"].as_str().is_some(), "{put}");
    // An entry EventBridge refuses fails the optimised task, as AWS's does.
    let refused = call(
        &tasks,
        "arn:aws:states:::events:putEvents",
        json!({"Entries": [{"DetailType": "Order", "Detail": "{}"}]}),
    )
    .await;
    assert_eq!(
        refused.error.as_deref(),
        Some("EventBridge.FailedEntry"),
        "{refused:?}"
    );
    assert!(refused.cause.unwrap().contains("\"FailedEntryCount\":1"));
    let missing_bus = call(
        &tasks,
        "arn:aws:states:::aws-sdk:eventbridge:describeEventBus",
        json!({"Name": "nope"}),
    )
    .await;
    assert_eq!(
        missing_bus.error.as_deref(),
        Some("EventBridge.ResourceNotFoundException"),
        "{missing_bus:?}"
    );

    let machine = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:sfn:createStateMachine",
        json!({"Name": "child", "RoleArn": "arn:aws:iam::123456789012:role/sf",
               "Definition": "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}"}),
    )
    .await;
    // Step Functions' own API is camelCase; the task sees PascalCase.
    let arn = machine["StateMachineArn"]
        .as_str()
        .expect("StateMachineArn")
        .to_owned();
    let started = ok(
        &tasks,
        "arn:aws:states:::states:startExecution",
        json!({"StateMachineArn": arn, "Name": "run-1", "Input": {"a": 1}}),
    )
    .await;
    assert!(
        started["ExecutionArn"]
            .as_str()
            .is_some_and(|a| a.ends_with(":run-1")),
        "{started}"
    );
    assert!(started.get("StartDate").is_some(), "{started}");
    assert_eq!(started["SdkHttpMetadata"]["HttpStatusCode"], 200);
    let described = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:sfn:describeExecution",
        json!({"ExecutionArn": started["ExecutionArn"]}),
    )
    .await;
    assert_eq!(described["Input"], "{\"a\":1}", "{described}");
    let missing = call(
        &tasks,
        "arn:aws:states:::states:startExecution",
        json!({"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nope"}),
    )
    .await;
    assert_eq!(
        missing.error.as_deref(),
        Some("StepFunctions.StateMachineDoesNotExistException"),
        "{missing:?}"
    );
    let sdk_missing = call(
        &tasks,
        "arn:aws:states:::aws-sdk:sfn:startExecution",
        json!({"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nope"}),
    )
    .await;
    assert_eq!(
        sdk_missing.error.as_deref(),
        Some("Sfn.StateMachineDoesNotExistException")
    );
}

/// `sqs:sendMessage.waitForTaskToken`: the token travels through the queue, and the task
/// ends when a consumer of the queue answers it.
#[tokio::test]
async fn sqs_send_message_wait_for_task_token() {
    let Some(moto) = Moto::start() else { return };
    let registry = CallbackRegistry::new(Arc::new(SystemClock), common::keys());
    let tasks = moto.integrations_for(&TasksConfig::default(), registry.clone());
    let created = ok(
        &tasks,
        "arn:aws:states:::aws-sdk:sqs:createQueue",
        json!({"QueueName": "approvals"}),
    )
    .await;
    let url = created["QueueUrl"].as_str().unwrap().to_owned();
    let definition = task(json!({
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": 20
    }));
    let consumer = async {
        for _ in 0..100 {
            let received = ok(
                &tasks,
                "arn:aws:states:::aws-sdk:sqs:receiveMessage",
                json!({"QueueUrl": url}),
            )
            .await;
            if let Some(body) = received["Messages"][0]["Body"].as_str() {
                let token = serde_json::from_str::<Value>(body).unwrap()["token"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                registry
                    .deliver(&CallbackMessage::SendTaskSuccess {
                        task_token: token,
                        output: r#"{"approved": true}"#.into(),
                    })
                    .unwrap();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the message never reached the queue");
    };
    let (outcome, ()) = tokio::join!(
        run(&definition, json!({}), MachineType::Standard, &tasks),
        consumer
    );
    assert_eq!(outcome.status, Status::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!({"approved": true})));
}

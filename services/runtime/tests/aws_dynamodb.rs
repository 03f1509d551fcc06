//! DynamoDB against moto: the optimised integrations' results and errors
//! (`DynamoDB.ConditionalCheckFailedException` caught by a Catch, a missing table) and the
//! SDK integration's spelling (`DynamoDb.…`).

mod common;
mod moto;

use asl::validate::MachineType;
use asl::Status;
use common::{run, task};
use moto::Moto;
use serde_json::{json, Value};

async fn create_table(moto_integrations: &runtime::tasks::Integrations, table: &str) {
    let outcome = run(
        &task(json!({
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:createTable",
            "Parameters": {
                "TableName": table,
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST"
            }
        })),
        json!({}),
        MachineType::Express,
        moto_integrations,
    )
    .await;
    assert_eq!(outcome.status, Status::Succeeded, "{outcome:?}");
    let output = outcome.output.unwrap();
    assert_eq!(output["TableDescription"]["TableName"], table, "{output}");
    assert!(
        output.get("SdkHttpMetadata").is_none(),
        "SDK results carry no envelope"
    );
}

#[tokio::test]
async fn put_get_update_delete_and_their_results() {
    let Some(moto) = Moto::start() else { return };
    let tasks = moto.integrations();
    create_table(&tasks, "orders").await;
    let definition = json!({
        "StartAt": "Put",
        "States": {
            "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "orders", "Item": {"id": {"S.$": "$.id"}, "n": {"N": "1"}}},
                "ResultPath": "$.put", "Next": "Update"},
            "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}},
                    "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                    "ReturnValues": "UPDATED_NEW"},
                "ResultPath": "$.update", "Next": "Get"},
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}},
                "ResultPath": "$.get", "Next": "Delete"},
            "Delete": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:deleteItem",
                "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}},
                    "ReturnValues": "ALL_OLD"},
                "ResultPath": "$.delete", "Next": "GetAgain"},
            "GetAgain": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "orders", "Key": {"id": {"S.$": "$.id"}}},
                "ResultPath": "$.gone", "End": true}
        }
    });
    let outcome = run(
        &definition,
        json!({"id": "o-1"}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(outcome.status, Status::Succeeded, "{outcome:?}");
    let out = outcome.output.unwrap();
    // putItem answers nothing but the envelope.
    let put = out["put"].as_object().unwrap();
    let mut keys: Vec<&str> = put.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["SdkHttpMetadata", "SdkResponseMetadata"], "{out}");
    assert_eq!(out["put"]["SdkHttpMetadata"]["HttpStatusCode"], 200);
    assert_eq!(
        out["update"]["Attributes"],
        json!({"n": {"N": "2"}}),
        "{out}"
    );
    assert_eq!(
        out["get"]["Item"],
        json!({"id": {"S": "o-1"}, "n": {"N": "2"}}),
        "{out}"
    );
    assert_eq!(
        out["delete"]["Attributes"]["id"],
        json!({"S": "o-1"}),
        "{out}"
    );
    assert!(out["gone"].get("Item").is_none(), "{out}");
}

#[tokio::test]
async fn a_failed_condition_is_caught_by_its_aws_name() {
    let Some(moto) = Moto::start() else { return };
    let tasks = moto.integrations();
    create_table(&tasks, "once").await;
    let put = |next: Value| {
        let mut state = json!({"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "once", "Item": {"id": {"S": "k"}},
                "ConditionExpression": "attribute_not_exists(id)"},
            "ResultPath": null,
            "Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                       "ResultPath": "$.caught", "Next": "Caught"}]});
        state
            .as_object_mut()
            .unwrap()
            .extend(next.as_object().unwrap().clone());
        state
    };
    let definition = json!({
        "StartAt": "First",
        "States": {
            "First": put(json!({"Next": "Second"})),
            "Second": put(json!({"Next": "NotCaught"})),
            "NotCaught": {"Type": "Fail", "Error": "SecondPutSucceeded"},
            "Caught": {"Type": "Succeed"}
        }
    });
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.status, Status::Succeeded, "{outcome:?}");
    let caught = &outcome.output.unwrap()["caught"];
    assert_eq!(caught["Error"], "DynamoDB.ConditionalCheckFailedException");
    let cause = caught["Cause"].as_str().unwrap();
    assert!(cause.contains("Status Code: 400"), "{cause}");
    assert!(!cause.contains("testing-secret"), "{cause}");

    // The SDK integration spells the service as Step Functions does there: DynamoDb.
    let sdk = run(
        &task(
            json!({"Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
            "Parameters": {"TableName": "once", "Item": {"id": {"S": "k"}},
                "ConditionExpression": "attribute_not_exists(id)"}}),
        ),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(sdk.status, Status::Failed);
    assert_eq!(
        sdk.error.as_deref(),
        Some("DynamoDb.ConditionalCheckFailedException")
    );
}

#[tokio::test]
async fn a_missing_table_fails_with_resource_not_found() {
    let Some(moto) = Moto::start() else { return };
    let tasks = moto.integrations();
    let outcome = run(
        &task(json!({"Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": "nope", "Key": {"id": {"S": "x"}}}})),
        json!({}),
        MachineType::Express,
        &tasks,
    )
    .await;
    assert_eq!(outcome.status, Status::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("DynamoDB.ResourceNotFoundException"),
        "{outcome:?}"
    );
}

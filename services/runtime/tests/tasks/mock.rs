//! Step Functions Local mock configurations answering Task states.

use super::common::{lambda_server, run};
use crate::lambda::lambda_tasks;
use asl::validate::MachineType;
use runtime::tasks::mock::MockTasks;
use serde_json::json;
use std::sync::Arc;
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

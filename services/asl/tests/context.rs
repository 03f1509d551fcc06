//! The context object (`$$`): Execution, StateMachine, State, Task and Map parts.
//! AWS: "Accessing execution data from the Context object in Step Functions".

use crate::util::*;
use serde_json::json;

fn read(fields: serde_json::Value) -> serde_json::Value {
    single(json!({"Type": "Pass", "Parameters": fields}))
}

#[test]
fn execution_fields() {
    run_ok(
        read(json!({
            "id.$": "$$.Execution.Id",
            "name.$": "$$.Execution.Name",
            "role.$": "$$.Execution.RoleArn",
            "start.$": "$$.Execution.StartTime",
            "input.$": "$$.Execution.Input"
        })),
        json!({"k": 1}),
        json!({
            "id": "arn:aws:states:us-east-1:111111111111:execution:test:run",
            "name": "run",
            "role": "arn:aws:iam::111111111111:role/test",
            "start": "2026-01-01T00:00:00.000Z",
            "input": {"k": 1}
        }),
    );
}

#[test]
fn state_machine_fields() {
    run_ok(
        read(json!({"id.$": "$$.StateMachine.Id", "name.$": "$$.StateMachine.Name"})),
        json!({}),
        json!({"id": "arn:aws:states:us-east-1:111111111111:stateMachine:test", "name": "test"}),
    );
}

#[test]
fn state_fields() {
    run_ok(
        read(json!({"name.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime"})),
        json!({}),
        json!({"name": "S", "entered": "2026-01-01T00:00:00.000Z"}),
    );
}

#[test]
fn execution_input_is_the_original_input() {
    let def = chain(&[
        ("A", json!({"Type": "Pass", "Result": "changed"})),
        (
            "B",
            json!({"Type": "Pass", "Parameters": {"orig.$": "$$.Execution.Input", "now.$": "$"}}),
        ),
    ]);
    run_ok(
        def,
        json!({"k": 1}),
        json!({"orig": {"k": 1}, "now": "changed"}),
    );
}

#[test]
fn entered_time_follows_the_clock() {
    let def = chain(&[
        ("W", json!({"Type": "Wait", "Seconds": 90})),
        (
            "B",
            json!({"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime", "s.$": "$$.Execution.StartTime"}}),
        ),
    ]);
    run_ok(
        def,
        json!({}),
        json!({"t": "2026-01-01T00:01:30.000Z", "s": "2026-01-01T00:00:00.000Z"}),
    );
}

#[test]
fn task_retry_count_starts_at_zero() {
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::test:run",
                            "Parameters": {"n.$": "$$.State.RetryCount"}}),
    );
    let ran = run_script(def, json!({}), |c| ok(c.input.clone()));
    assert_eq!(ran.output(), json!({"n": 0}));
}

#[test]
fn map_item_exists_only_in_item_selector() {
    run_ok(
        single(json!({"Type": "Map",
            "ItemSelector": {"item.$": "$$.Map.Item"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}})),
        json!([{"a": 1}]),
        json!([{"item": {"Index": 0, "Value": {"a": 1}}}]),
    );
}

#[test]
fn missing_context_field_is_runtime_error() {
    run_err(
        read(json!({"t.$": "$$.Task.Token"})),
        json!({}),
        "States.Runtime",
    );
}

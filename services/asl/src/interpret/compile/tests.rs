//! `Machine::compile` on definitions validation would refuse: each is an error at the
//! offending field, never a panic (the model keeps what it could not type, compile says so).

use super::{CompileError, Machine};
use serde_json::{json, Value};

fn refused(definition: Value) -> CompileError {
    match Machine::compile(&definition) {
        Ok(machine) => panic!("compiled: {machine:?}"),
        Err(e) => e,
    }
}

fn one_state(state: Value) -> Value {
    json!({"StartAt": "A", "States": {"A": state}})
}

fn assert_refused(definition: Value, location: &str, message: &str) {
    let e = refused(definition);
    assert_eq!(
        (e.location.as_str(), e.message.as_str()),
        (location, message)
    );
}

#[test]
fn a_definition_that_is_not_an_object() {
    assert_refused(json!("machine"), "", "a state machine must be an object");
}

#[test]
fn a_state_without_a_type_or_with_a_foreign_one() {
    assert_refused(
        one_state(json!({"End": true})),
        "/States/A",
        "the field 'Type' is required",
    );
    assert_refused(
        one_state(json!({"Type": 3, "End": true})),
        "/States/A/Type",
        "the field 'Type' must be a string",
    );
    assert_refused(
        one_state(json!({"Type": "Teleport", "End": true})),
        "/States/A/Type",
        "unknown state type 'Teleport'",
    );
}

#[test]
fn a_task_resource_that_is_not_a_string() {
    assert_refused(
        one_state(json!({"Type": "Task", "Resource": 1, "End": true})),
        "/States/A/Resource",
        "the field 'Resource' must be a string",
    );
}

#[test]
fn a_branch_that_is_not_an_object() {
    assert_refused(
        one_state(json!({"Type": "Parallel", "End": true, "Branches": [[]]})),
        "/States/A/Branches/0",
        "a state machine must be an object",
    );
}

#[test]
fn retriers_and_catchers_that_are_not_objects() {
    let task = |field: &str| {
        let mut state =
            json!({"Type": "Task", "Resource": "arn:aws:lambda:x:1:function:f", "End": true});
        state[field] = json!(["oops"]);
        one_state(state)
    };
    assert_refused(
        task("Retry"),
        "/States/A/Retry/0/ErrorEquals",
        "'ErrorEquals' is required and must be an array",
    );
    assert_refused(
        task("Catch"),
        "/States/A/Catch/0",
        "a catcher must be an object",
    );
}

#[test]
fn a_retrier_number_that_is_not_a_number() {
    assert_refused(
        one_state(
            json!({"Type": "Task", "Resource": "arn:aws:lambda:x:1:function:f", "End": true,
                         "Retry": [{"ErrorEquals": ["E"], "BackoffRate": "fast"}]}),
        ),
        "/States/A/Retry/0/BackoffRate",
        "'BackoffRate' must be a number",
    );
}

#[test]
fn a_choice_rule_that_is_not_an_object() {
    assert_refused(
        one_state(json!({"Type": "Choice", "Choices": [{"Not": 5, "Next": "A"}]})),
        "/States/A/Choices/0/Not",
        "a choice rule must be an object",
    );
    assert_refused(
        one_state(json!({"Type": "Choice", "Choices": ["rule"]})),
        "/States/A/Choices/0",
        "a choice rule needs 'Next'",
    );
}

#[test]
fn a_map_batcher_that_is_not_an_object() {
    assert_refused(
        one_state(json!({"Type": "Map", "End": true, "ItemBatcher": 1,
                         "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}})),
        "/States/A/ItemBatcher",
        "'ItemBatcher' must be an object",
    );
}

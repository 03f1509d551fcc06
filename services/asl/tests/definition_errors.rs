//! Definitions AWS refuses surface as `DefinitionError` from `Machine::from_definition`.
//! AWS: "Amazon States Language" structure rules (StartAt, Next targets, required fields).

use crate::util::*;
use serde_json::json;

#[test]
fn start_at_names_no_state() {
    rejected(json!({"StartAt": "Nope", "States": {"A": {"Type": "Pass", "End": true}}}));
}

#[test]
fn next_names_no_state() {
    rejected(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}));
}

#[test]
fn unknown_state_type() {
    rejected(json!({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": true}}}));
}

#[test]
fn missing_states() {
    rejected(json!({"StartAt": "A"}));
}

#[test]
fn task_without_resource() {
    rejected(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}));
}

#[test]
fn choice_without_choices() {
    rejected(
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Default": "B"},
                                               "B": {"Type": "Succeed"}}}),
    );
}

#[test]
fn wait_with_two_durations() {
    rejected(
        json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1,
                                                     "Timestamp": "2024-01-01T00:00:00Z", "End": true}}}),
    );
}

#[test]
fn unknown_comparison_operator() {
    rejected(json!({"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [{"Variable": "$.v", "StringLooksLike": "x", "Next": "B"}]},
        "B": {"Type": "Succeed"}}}));
}

#[test]
fn numeric_operator_with_string_operand() {
    rejected(json!({"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": "1", "Next": "B"}]},
        "B": {"Type": "Succeed"}}}));
}

#[test]
fn bad_json_path() {
    rejected(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "not a path", "End": true}}}),
    );
}

#[test]
fn unreachable_state() {
    rejected(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
    );
}

#[test]
fn states_all_not_last_in_catch() {
    rejected(json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::test:run", "End": true, "Catch": [
            {"ErrorEquals": ["States.ALL"], "Next": "B"},
            {"ErrorEquals": ["E"], "Next": "B"}]},
        "B": {"Type": "Succeed"}}}));
}

#[test]
fn the_error_message_names_the_problem() {
    let message =
        rejected(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}));
    assert!(message.contains("Gone"), "{message}");
}

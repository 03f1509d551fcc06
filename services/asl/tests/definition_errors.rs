//! Definitions AWS refuses surface as `DefinitionError` from `Machine::from_definition`, each
//! with AWS's diagnostic code at the JSON pointer AWS names (not only "something was refused").
//! AWS: "Amazon States Language" structure rules (StartAt, Next targets, required fields).

use crate::util::*;
use serde_json::json;

#[test]
fn start_at_names_no_state() {
    rejected_at(
        json!({"StartAt": "Nope", "States": {"A": {"Type": "Pass", "End": true}}}),
        "MISSING_TRANSITION_TARGET",
        "/StartAt",
    );
}

#[test]
fn next_names_no_state() {
    rejected_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}),
        "MISSING_TRANSITION_TARGET",
        "/States/A/Next",
    );
}

#[test]
fn unknown_state_type() {
    rejected_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": true}}}),
        "SCHEMA_VALIDATION_FAILED",
        "/States/A/Type",
    );
}

#[test]
fn missing_states() {
    rejected_at(json!({"StartAt": "A"}), "SCHEMA_VALIDATION_FAILED", "/");
}

#[test]
fn task_without_resource() {
    rejected_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
        "SCHEMA_VALIDATION_FAILED",
        "/States/A",
    );
}

#[test]
fn choice_without_choices() {
    rejected_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Default": "B"},
                                               "B": {"Type": "Succeed"}}}),
        "SCHEMA_VALIDATION_FAILED",
        "/States/A",
    );
}

#[test]
fn wait_with_two_durations() {
    rejected_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1,
                                                     "Timestamp": "2024-01-01T00:00:00Z", "End": true}}}),
        "SCHEMA_VALIDATION_FAILED",
        "/States/A",
    );
}

#[test]
fn unknown_comparison_operator() {
    rejected_at(
        json!({"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [{"Variable": "$.v", "StringLooksLike": "x", "Next": "B"}]},
        "B": {"Type": "Succeed"}}}),
        "SCHEMA_VALIDATION_FAILED",
        "/States/A/Choices/0",
    );
}

#[test]
fn numeric_operator_with_string_operand() {
    rejected_at(
        json!({"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": "1", "Next": "B"}]},
        "B": {"Type": "Succeed"}}}),
        "SCHEMA_VALIDATION_FAILED",
        "/States/A/Choices/0/NumericEquals",
    );
}

#[test]
fn bad_json_path() {
    rejected_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "not a path", "End": true}}}),
        "SCHEMA_VALIDATION_FAILED",
        "/States/A/InputPath",
    );
}

#[test]
fn unreachable_state() {
    rejected_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
        "MISSING_TRANSITION_TARGET",
        "/States/B",
    );
}

#[test]
fn states_all_not_last_in_catch() {
    rejected_at(
        json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::test:run", "End": true, "Catch": [
            {"ErrorEquals": ["States.ALL"], "Next": "B"},
            {"ErrorEquals": ["E"], "Next": "B"}]},
        "B": {"Type": "Succeed"}}}),
        "SCHEMA_VALIDATION_FAILED",
        "/States/A/Catch/0",
    );
}

#[test]
fn the_error_message_names_the_problem() {
    let message = rejected_at(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}),
        "MISSING_TRANSITION_TARGET",
        "/States/A/Next",
    );
    assert!(message.contains("Gone"), "{message}");
}

//! Choice, field by field. AWS: "Choice workflow state"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html): a Choice Rule
//! may carry `Assign`, "assigns variables when this specific choice rule matches", and the
//! state's own `Assign` "applies regardless of which choice rule matches"; a Choice has
//! no result, so InputPath and OutputPath apply to its input. Variables and `$$` can be a
//! rule's `Variable` ("Passing data between states with variables").

use crate::util::*;
use serde_json::{json, Value};

/// A Choice `C` over `rules` with Default `D`, then reads variables `names` into the output.
fn choose(choice: Value, names: &[&str]) -> Value {
    let mut read = serde_json::Map::new();
    for name in names {
        read.insert(format!("{name}.$"), json!(format!("${name}")));
    }
    read.insert("out.$".into(), json!("$"));
    json!({
        "StartAt": "C",
        "States": {
            "C": choice,
            "Yes": {"Type": "Pass", "Parameters": read.clone(), "End": true},
            "D": {"Type": "Pass", "Parameters": read, "End": true}
        }
    })
}

#[test]
fn a_matched_jsonpath_rule_assigns_after_the_state_assign() {
    let def = choose(
        json!({"Type": "Choice",
               "Choices": [
                   {"Variable": "$.v", "NumericEquals": 1, "Next": "Yes",
                    "Assign": {"status": "ONE", "seen.$": "$.v"}}
               ],
               "Assign": {"status": "ANY", "always": true},
               "Default": "D"}),
        &["status", "seen", "always"],
    );
    run_ok(
        def,
        json!({"v": 1}),
        json!({"status": "ONE", "seen": 1, "always": true, "out": {"v": 1}}),
    );
}

#[test]
fn the_default_branch_applies_only_the_state_assign() {
    let def = choose(
        json!({"Type": "Choice",
               "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "Yes", "Assign": {"status": "ONE"}}],
               "Assign": {"status": "ANY"},
               "Default": "D"}),
        &["status"],
    );
    run_ok(
        def,
        json!({"v": 2}),
        json!({"status": "ANY", "out": {"v": 2}}),
    );
}

#[test]
fn only_the_first_matching_rule_assigns() {
    let def = choose(
        json!({"Type": "Choice",
        "Choices": [
            {"Variable": "$.v", "IsPresent": false, "Next": "D", "Assign": {"r": "absent"}},
            {"Variable": "$.v", "IsNumeric": true, "Next": "Yes", "Assign": {"r": "number"}},
            {"Variable": "$.v", "NumericGreaterThan": 0, "Next": "Yes", "Assign": {"r": "positive"}}
        ]}),
        &["r"],
    );
    run_ok(
        def,
        json!({"v": 5}),
        json!({"r": "number", "out": {"v": 5}}),
    );
}

#[test]
fn rule_assign_reads_the_input_after_input_path_and_old_variables() {
    let def = json!({
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"n": 1}, "Next": "C"},
            "C": {"Type": "Choice", "InputPath": "$.inner", "OutputPath": "$.keep",
                  "Choices": [{"Variable": "$.v", "BooleanEquals": true, "Next": "Read",
                               "Assign": {"n": 2, "old.$": "$n", "v.$": "$.v"}}]},
            "Read": {"Type": "Pass", "Parameters": {"n.$": "$n", "old.$": "$old", "v.$": "$v", "out.$": "$"}, "End": true}
        }
    });
    run_ok(
        def,
        json!({"inner": {"v": true, "keep": "k"}}),
        json!({"n": 2, "old": 1, "v": true, "out": "k"}),
    );
}

#[test]
fn rule_assign_with_a_missing_path_is_a_runtime_error() {
    let def = choose(
        json!({"Type": "Choice",
               "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "Yes", "Assign": {"x.$": "$.nope"}}],
               "Default": "D"}),
        &[],
    );
    run_err(def, json!({"v": 1}), "States.Runtime");
}

#[test]
fn variable_and_context_as_the_rule_variable() {
    let def = json!({
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"flag": "on"}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"And": [
                    {"Variable": "$flag", "StringEquals": "on"},
                    {"Variable": "$$.Execution.Input.n", "NumericGreaterThanPath": "$.min"}
                ], "Next": "Yes"}
            ], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": "yes", "End": true},
            "No": {"Type": "Pass", "Result": "no", "End": true}
        }
    });
    run_ok(def.clone(), json!({"n": 5, "min": 1}), json!("yes"));
    run_ok(def, json!({"n": 0, "min": 1}), json!("no"));
}

#[test]
fn jsonata_rule_output_and_assign_see_old_variables() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"n": 1}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $n = 1 %}", "Next": "Read",
                 "Assign": {"n": "{% $n + 1 %}", "rule": "{% $n %}"},
                 "Output": {"o": "{% $n %}"}}
            ], "Assign": {"state": "{% $n %}"}},
            "Read": {"Type": "Pass", "Output": {"n": "{% $n %}", "rule": "{% $rule %}", "state": "{% $state %}", "in": "{% $states.input %}"}, "End": true}
        }
    });
    run_ok(
        def,
        json!({}),
        json!({"n": 2, "rule": 1, "state": 1, "in": {"o": 1}}),
    );
}

#[test]
fn comparison_path_operands_read_variables_and_the_context_object() {
    let def = json!({
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"limit": 3}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericGreaterThanPath": "$limit", "Next": "Big"},
                {"Variable": "$.name", "StringEqualsPath": "$$.Execution.Name", "Next": "Named"}
            ], "Default": "No"},
            "Big": {"Type": "Pass", "Result": "big", "End": true},
            "Named": {"Type": "Pass", "Result": "named", "End": true},
            "No": {"Type": "Pass", "Result": "no", "End": true}
        }
    });
    run_ok(def.clone(), json!({"n": 5}), json!("big"));
    run_ok(def.clone(), json!({"n": 1, "name": "run"}), json!("named"));
    run_ok(def, json!({"n": 1, "name": "other"}), json!("no"));
}

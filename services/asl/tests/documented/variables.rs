//! Workflow variables: the order in which `Assign` and `Output` are evaluated and the size
//! limit. AWS: "Passing data between states with variables"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html): all
//! expressions of one state's Assign are evaluated with the variable values from when the
//! state was entered, then assigned; JSONata `Output` also reads those values; "the maximum
//! size of a single variable is 256 KiB" and of all variables assigned in one state likewise
//! — in JSONPath states as in JSONata.

use crate::util::*;
use serde_json::json;

/// Half the limit and a bit: one copy fits, two in one state do not (and an execution
/// input holding one copy is within the payload limit).
fn half() -> String {
    "x".repeat(140_000)
}

#[test]
fn every_assign_expression_sees_the_values_from_before_the_state() {
    // `b` reads `a` before this state reassigns it, `c` reads `b` likewise.
    let def = chain(&[
        ("Init", json!({"Type": "Pass", "Assign": {"a": 1, "b": 2}})),
        (
            "Shift",
            json!({"Type": "Pass", "Assign": {"a": 10, "b.$": "$a", "c.$": "$b"}}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"a.$": "$a", "b.$": "$b", "c.$": "$c"}}),
        ),
    ]);
    run_ok(def, json!({}), json!({"a": 10, "b": 1, "c": 2}));
}

#[test]
fn jsonata_output_sees_the_values_from_before_assign() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"a": 1}, "Next": "Shift"},
            "Shift": {"Type": "Pass",
                      "Assign": {"a": "{% $a + 1 %}", "b": "{% $a %}"},
                      "Output": {"a": "{% $a %}"}, "Next": "Read"},
            "Read": {"Type": "Pass", "Output": {"before": "{% $states.input.a %}", "a": "{% $a %}", "b": "{% $b %}"}, "End": true}
        }
    });
    run_ok(def, json!({}), json!({"before": 1, "a": 2, "b": 1}));
}

#[test]
fn jsonpath_parameters_and_result_selector_see_the_old_values_too() {
    // Assign runs after ResultSelector: Parameters and ResultSelector of the same state read
    // the variables as they were on entry.
    let def = chain(&[
        ("Init", json!({"Type": "Pass", "Assign": {"a": "old"}})),
        (
            "T",
            json!({"Type": "Task", "Resource": "arn:aws:states:::test:echo",
                   "Parameters": {"p.$": "$a"},
                   "ResultSelector": {"r.$": "$a", "p.$": "$.p"},
                   "Assign": {"a": "new"}}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"a.$": "$a", "out.$": "$"}}),
        ),
    ]);
    let ran = run_script(def, json!({}), |call| ok(call.input.clone()));
    assert_eq!(
        ran.output(),
        json!({"a": "new", "out": {"r": "old", "p": "old"}})
    );
}

#[test]
fn jsonpath_assign_over_256_kib_fails() {
    let ran = run(
        single(json!({"Type": "Pass", "Assign": {"one.$": "$.s", "two.$": "$.s"}})),
        json!({"s": half()}),
    );
    assert_eq!(ran.error(), "States.Runtime");
    assert!(
        ran.cause()
            .contains("The assigned variables exceed the maximum size of 262144 bytes"),
        "{}",
        ran.cause()
    );
}

#[test]
fn jsonpath_assign_under_256_kib_is_kept() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"big.$": "$.s"}})),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength(States.StringSplit($big, 'y'))"}}),
        ),
    ]);
    run_ok(def, json!({"s": "x".repeat(200_000)}), json!({"n": 1}));
}

#[test]
fn catch_and_choice_rule_assign_have_the_limit_too() {
    let catch = json!({
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::test:echo",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done", "Assign": {"one.$": "$.Cause", "two.$": "$.Cause"}}],
                  "End": true},
            "Done": {"Type": "Succeed"}
        }
    });
    let ran = run_script(catch, json!({}), |_| fail("Boom", &half()));
    assert_eq!(ran.error(), "States.Runtime");
    let choice = json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.s", "IsString": true, "Next": "Done", "Assign": {"one.$": "$.s", "two.$": "$.s"}}
            ]},
            "Done": {"Type": "Succeed"}
        }
    });
    run_err(choice, json!({"s": half()}), "States.Runtime");
}

#[test]
fn a_failed_assign_leaves_the_variables_unchanged_for_a_catcher() {
    // A JSONata Assign that fails is a States.QueryEvaluationError the state's catcher can
    // take; the catcher then reads the variables from before the state.
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"a": 1}, "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::test:echo",
                  "Assign": {"a": 2, "bad": "{% $nope.x %}"},
                  "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Read",
                             "Output": {"a": "{% $a %}", "error": "{% $states.errorOutput.Error %}"}}],
                  "End": true},
            "Read": {"Type": "Pass", "End": true}
        }
    });
    let ran = run_script(def, json!({}), |_| ok(json!({})));
    assert_eq!(
        ran.output(),
        json!({"a": 1, "error": "States.QueryEvaluationError"})
    );
}

#[test]
fn assign_reads_the_context_object_and_calls_intrinsics_on_variables() {
    let def = chain(&[
        ("Init", json!({"Type": "Pass", "Assign": {"xs": [1, 2]}})),
        (
            "Set",
            json!({"Type": "Pass", "Assign": {
                "name.$": "$$.State.Name",
                "n.$": "States.ArrayLength($xs)",
                "first.$": "$xs[0]"
            }}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"name.$": "$name", "n.$": "$n", "first.$": "$first"}}),
        ),
    ]);
    run_ok(def, json!({}), json!({"name": "Set", "n": 2, "first": 1}));
}

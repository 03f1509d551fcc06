//! The error path, step by step. AWS: "Handling errors in Step Functions workflows"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html): a
//! catcher's ResultPath places the error output into the state's *raw* input (InputPath
//! is not applied); without ResultPath the error output replaces the input. In JSONPath a
//! catcher's `Assign` reads the error output as `$` ("Passing data between states with
//! variables"); in JSONata its `Output` and `Assign` read `$states.errorOutput` and
//! `$states.input` ("Transforming data with JSONata"). The failed state's own Assign and
//! Output/OutputPath never apply; every expression reads the variables from before it.

use crate::util::*;
use serde_json::{json, Value};

const RES: &str = "arn:aws:states:::test:echo";

/// `Init` assigns `n = 1`, then the failing task `T` (with `task` fields) catches into `Read`,
/// which reports the input it got and the variables `names`.
fn failing(task: Value, names: &[&str]) -> Value {
    let mut read = serde_json::Map::new();
    for name in names {
        read.insert(format!("{name}.$"), json!(format!("${name}")));
    }
    read.insert("in.$".into(), json!("$"));
    let mut t = json!({"Type": "Task", "Resource": RES, "End": true});
    for (k, v) in task.as_object().unwrap() {
        t[k] = v.clone();
    }
    json!({
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"n": 1}, "Next": "T"},
            "T": t,
            "Read": {"Type": "Pass", "Parameters": read, "End": true}
        }
    })
}

#[test]
fn catcher_result_path_uses_the_raw_input_not_the_input_path_view() {
    let def = failing(
        json!({"InputPath": "$.a", "Parameters": {"x": 1}, "OutputPath": "$.nope",
               "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Read"}]}),
        &[],
    );
    let ran = run_script(def, json!({"a": {"b": 1}, "c": 2}), |_| fail("E", "why"));
    assert_eq!(
        ran.output(),
        json!({"in": {"a": {"b": 1}, "c": 2, "err": {"Error": "E", "Cause": "why"}}})
    );
}

#[test]
fn catcher_assign_reads_the_error_output_and_the_old_variables() {
    let def = failing(
        json!({"Assign": {"n": 99, "skipped": true},
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Read",
                          "Assign": {"n": 2, "old.$": "$n", "err.$": "$.Error"}}]}),
        &["n", "old", "err"],
    );
    let ran = run_script(def, json!({}), |_| fail("E", "why"));
    assert_eq!(
        ran.output(),
        json!({"n": 2, "old": 1, "err": "E", "in": {"Error": "E", "Cause": "why"}})
    );
}

#[test]
fn the_failed_states_assign_does_not_apply() {
    let def = failing(
        json!({"Assign": {"n": 99},
               "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": "Read"}]}),
        &["n"],
    );
    let ran = run_script(def, json!({"k": 1}), |_| fail("E", "why"));
    assert_eq!(ran.output(), json!({"n": 1, "in": {"k": 1}}));
}

#[test]
fn catcher_result_path_can_read_context_in_the_next_state() {
    let def = failing(
        json!({"Catch": [{"ErrorEquals": ["E"], "ResultPath": "$.e", "Next": "Read"}]}),
        &[],
    );
    let ran = run_script(def, json!({}), |_| fail("E", ""));
    assert_eq!(ran.output()["in"]["e"]["Error"], "E");
}

#[test]
fn a_result_selector_selecting_nothing_is_not_caught() {
    // ResultSelector runs after the task succeeded; a path there that selects nothing is
    // States.Runtime, which no catcher (not even States.ALL) takes.
    let def = failing(
        json!({"ResultSelector": {"x.$": "$.missing"},
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Read"}]}),
        &[],
    );
    let ran = run_script(def, json!({}), |_| ok(json!({})));
    assert_eq!(ran.error(), "States.Runtime");
}

#[test]
fn retried_attempts_read_the_same_variables() {
    // Retry re-runs the state from its input: Parameters sees the variables from before
    // the state on every attempt.
    let def = chain(&[
        ("Init", json!({"Type": "Pass", "Assign": {"n": 1}})),
        (
            "T",
            json!({"Type": "Task", "Resource": RES,
                   "Parameters": {"n.$": "$n", "retry.$": "$$.State.RetryCount"},
                   "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                   "Assign": {"n.$": "$.n"}}),
        ),
    ]);
    let ran = run_script(def, json!({}), |call| {
        if call.index < 2 {
            fail("E", "")
        } else {
            ok(call.input.clone())
        }
    });
    let inputs: Vec<Value> = ran.calls.iter().map(|c| c.input.clone()).collect();
    assert_eq!(
        inputs,
        vec![
            json!({"n": 1, "retry": 0}),
            json!({"n": 1, "retry": 1}),
            json!({"n": 1, "retry": 2})
        ]
    );
}

#[test]
fn jsonata_catch_output_and_assign_order() {
    // Catch Output and Assign both read `$states.errorOutput`, `$states.input` (the raw
    // state input) and the variables from before the state; the state's own Output and
    // Assign are skipped.
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"n": 1}, "Next": "T"},
            "T": {"Type": "Task", "Resource": RES,
                  "Arguments": {"never": "{% $states.input.a %}"},
                  "Assign": {"n": 100},
                  "Output": {"never": true},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Read",
                             "Assign": {"n": "{% $n + 1 %}", "e": "{% $states.errorOutput.Error %}"},
                             "Output": {"n": "{% $n %}", "in": "{% $states.input %}", "cause": "{% $states.errorOutput.Cause %}"}}],
                  "End": true},
            "Read": {"Type": "Pass", "Output": {"got": "{% $states.input %}", "n": "{% $n %}", "e": "{% $e %}"}, "End": true}
        }
    });
    let ran = run_script(def, json!({"a": 5}), |_| fail("E", "why"));
    assert_eq!(
        ran.output(),
        json!({"got": {"n": 1, "in": {"a": 5}, "cause": "why"}, "n": 2, "e": "E"})
    );
}

#[test]
fn jsonata_catch_without_output_passes_the_error_output() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": RES,
                  "Catch": [{"ErrorEquals": ["E"], "Next": "Read"}], "End": true},
            "Read": {"Type": "Pass", "End": true}
        }
    });
    let ran = run_script(def, json!({"a": 5}), |_| fail("E", "why"));
    assert_eq!(ran.output(), json!({"Error": "E", "Cause": "why"}));
}

#[test]
fn jsonata_catch_output_that_fails_is_a_query_evaluation_error() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": RES,
                  "Catch": [{"ErrorEquals": ["E"], "Next": "Read", "Output": "{% $nope.x %}"}], "End": true},
            "Read": {"Type": "Pass", "End": true}
        }
    });
    let ran = run_script(def, json!({}), |_| fail("E", "why"));
    assert_eq!(ran.error(), "States.QueryEvaluationError");
}

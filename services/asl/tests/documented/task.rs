//! Task, field by field. AWS: "Task workflow state"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html): TimeoutSeconds
//! and HeartbeatSeconds are positive integers; "TimeoutSecondsPath ... the reference path
//! must select fields whose values are positive integers" (HeartbeatSecondsPath alike);
//! in JSONata both fields take an expression. Data flow: "Processing input and output in
//! Step Functions" (InputPath → Parameters → ResultSelector → ResultPath → OutputPath), the
//! `…Path` fields read the input after InputPath.

use crate::util::*;
use serde_json::{json, Value};

const RESOURCE: &str = "arn:aws:states:::test:echo";

fn task(extra: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": RESOURCE});
    for (k, v) in extra.as_object().unwrap() {
        state[k] = v.clone();
    }
    single(state)
}

/// Runs a task whose integration returns `{"r": 1}` after `delay` seconds.
fn slow(definition: Value, input: Value, delay: f64) -> Ran {
    run_script(definition, input, move |_| {
        after(delay, ok(json!({"r": 1})))
    })
}

#[test]
fn the_full_jsonpath_pipeline_in_order() {
    // InputPath selects, Parameters builds the task input, ResultSelector reshapes the
    // result, ResultPath puts it into the raw input, OutputPath selects from that.
    let ran = run_script(
        task(json!({
            "InputPath": "$.in",
            "Parameters": {"p.$": "$.v"},
            "ResultSelector": {"got.$": "$.echo.p"},
            "ResultPath": "$.in.res",
            "OutputPath": "$.in"
        })),
        json!({"in": {"v": 7}, "other": 1}),
        |call| ok(json!({"echo": call.input.clone()})),
    );
    assert_eq!(ran.calls[0].input, json!({"p": 7}));
    assert_eq!(ran.output(), json!({"v": 7, "res": {"got": 7}}));
}

#[test]
fn variables_and_context_in_every_path_field() {
    let def = chain(&[
        (
            "Set",
            json!({"Type": "Pass", "Assign": {"sel": {"v": 3}, "key": "k"}}),
        ),
        (
            "T",
            json!({
                "Type": "Task", "Resource": RESOURCE,
                "InputPath": "$sel",
                "Parameters": {"v.$": "$.v", "name.$": "$$.State.Name", "key.$": "$key"},
                "ResultSelector": {"r.$": "$.v", "key.$": "$key", "state.$": "$$.State.Name"}
            }),
        ),
    ]);
    let ran = run_script(def, json!({}), |call| ok(call.input.clone()));
    assert_eq!(ran.calls[0].input, json!({"v": 3, "name": "T", "key": "k"}));
    assert_eq!(ran.output(), json!({"r": 3, "key": "k", "state": "T"}));
}

#[test]
fn output_path_reads_a_variable() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"x": {"y": 1}}})),
        (
            "T",
            json!({"Type": "Task", "Resource": RESOURCE, "OutputPath": "$x"}),
        ),
    ]);
    let ran = run_script(def, json!({}), |_| ok(json!({})));
    assert_eq!(ran.output(), json!({"y": 1}));
}

#[test]
fn assign_sees_the_result_after_result_selector_and_the_old_variables() {
    // "Passing data between states with variables": in JSONPath, Assign's `$` is the result
    // after ResultSelector, and every expression reads the variables from before the state.
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"n": 1}})),
        (
            "T",
            json!({"Type": "Task", "Resource": RESOURCE,
                   "ResultSelector": {"sel.$": "$.raw"},
                   "Assign": {"n": 2, "old.$": "$n", "sel.$": "$.sel"},
                   "ResultPath": null}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"n.$": "$n", "old.$": "$old", "sel.$": "$sel"}}),
        ),
    ]);
    let ran = run_script(def, json!({}), |_| ok(json!({"raw": "R"})));
    assert_eq!(ran.output(), json!({"n": 2, "old": 1, "sel": "R"}));
}

#[test]
fn timeout_seconds_path_reads_the_input_after_input_path() {
    let ran = slow(
        task(json!({"InputPath": "$.cfg", "TimeoutSecondsPath": "$.t"})),
        json!({"cfg": {"t": 2}}),
        5.0,
    );
    assert_eq!(ran.error(), "States.Timeout");
    assert_eq!(ran.elapsed_s(), 2.0);
}

#[test]
fn timeout_seconds_path_reads_variables_and_the_context_object() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"limit": 1}})),
        (
            "T",
            json!({"Type": "Task", "Resource": RESOURCE, "TimeoutSecondsPath": "$limit"}),
        ),
    ]);
    assert_eq!(slow(def, json!({}), 5.0).error(), "States.Timeout");
    let ran = slow(
        task(json!({"TimeoutSecondsPath": "$$.Execution.Input.t"})),
        json!({"t": 10}),
        1.0,
    );
    assert_eq!(ran.output(), json!({"r": 1}));
}

#[test]
fn timeout_seconds_path_must_select_a_positive_integer() {
    for (value, shown) in [
        (json!(0), "0"),
        (json!(-3), "-3"),
        (json!(1.5), "1.5"),
        (json!("10"), "10"),
    ] {
        let ran = slow(
            task(json!({"TimeoutSecondsPath": "$.t"})),
            json!({"t": value}),
            0.0,
        );
        assert_eq!(ran.error(), "States.Runtime", "{value}");
        assert!(
            ran.cause().contains(&format!(
                "The TimeoutSecondsPath field refers to value \"{shown}\" which is not a positive integer: $.t"
            )),
            "{}",
            ran.cause()
        );
        // The integration is never called.
        assert!(ran.calls.is_empty());
    }
}

#[test]
fn heartbeat_seconds_path_must_select_a_positive_integer() {
    let ran = slow(
        task(json!({"HeartbeatSecondsPath": "$.h"})),
        json!({"h": -1}),
        0.0,
    );
    assert_eq!(ran.error(), "States.Runtime");
    assert!(ran
        .cause()
        .contains("The HeartbeatSecondsPath field refers to value \"-1\" which is not a positive integer: $.h"));
}

#[test]
fn heartbeat_seconds_path_reaches_the_integration() {
    let ran = slow(
        task(json!({"HeartbeatSecondsPath": "$.h"})),
        json!({"h": 30}),
        0.0,
    );
    assert_eq!(ran.calls[0].heartbeat, Some(30));
}

#[test]
fn timeout_seconds_path_missing_is_a_runtime_error() {
    let ran = slow(
        task(json!({"TimeoutSecondsPath": "$.nope"})),
        json!({}),
        0.0,
    );
    assert_eq!(ran.error(), "States.Runtime");
    assert!(ran.cause().contains("$.nope"), "{}", ran.cause());
}

#[test]
fn literal_timeout_and_heartbeat_are_positive_integers() {
    // No upper bound is documented for these (99999999 is TimeoutSeconds' default).
    rejected(task(json!({"TimeoutSeconds": 0})));
    rejected(task(json!({"TimeoutSeconds": -1})));
    rejected(task(json!({"HeartbeatSeconds": 0})));
    rejected(task(json!({"HeartbeatSeconds": 1.5})));
}

fn jsonata_task(extra: Value) -> Value {
    let mut state = json!({"Type": "Task", "QueryLanguage": "JSONata", "Resource": RESOURCE});
    for (k, v) in extra.as_object().unwrap() {
        state[k] = v.clone();
    }
    single(state)
}

#[test]
fn jsonata_timeout_expression_applies() {
    let ran = slow(
        jsonata_task(json!({"TimeoutSeconds": "{% $states.input.t %}"})),
        json!({"t": 2}),
        5.0,
    );
    assert_eq!(ran.error(), "States.Timeout");
    assert_eq!(ran.elapsed_s(), 2.0);
}

#[test]
fn jsonata_timeout_and_heartbeat_must_be_positive_integers() {
    for field in ["TimeoutSeconds", "HeartbeatSeconds"] {
        for value in [json!(0), json!(-1), json!(2.5), json!("5")] {
            let ran = slow(
                jsonata_task(json!({field: "{% $states.input.v %}"})),
                json!({"v": value}),
                0.0,
            );
            assert_eq!(
                ran.error(),
                "States.QueryEvaluationError",
                "{field} {value}"
            );
            assert!(ran.cause().contains(field), "{}", ran.cause());
            assert!(ran.calls.is_empty());
        }
    }
}

#[test]
fn jsonata_arguments_output_assign_in_order() {
    // "Transforming data with JSONata": Arguments is the task input; Output and Assign see
    // `$states.result` and the variables from before the state.
    let def = chain(&[
        (
            "Set",
            json!({"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"n": 1}}),
        ),
        (
            "T",
            json!({"Type": "Task", "QueryLanguage": "JSONata", "Resource": RESOURCE,
                   "Arguments": {"a": "{% $states.input.x + $n %}"},
                   "Assign": {"n": "{% $states.result.a %}", "before": "{% $n %}"},
                   "Output": {"res": "{% $states.result.a %}", "n": "{% $n %}", "in": "{% $states.input.x %}"}}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "QueryLanguage": "JSONata",
                   "Output": {"out": "{% $states.input %}", "n": "{% $n %}", "before": "{% $before %}"}}),
        ),
    ]);
    let ran = run_script(def, json!({"x": 10}), |call| ok(call.input.clone()));
    assert_eq!(ran.calls[0].input, json!({"a": 11}));
    assert_eq!(
        ran.output(),
        json!({"out": {"res": 11, "n": 1, "in": 10}, "n": 11, "before": 1})
    );
}

#[test]
fn heartbeat_seconds_path_reads_a_variable() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"beat": 7}})),
        (
            "T",
            json!({"Type": "Task", "Resource": RESOURCE, "HeartbeatSecondsPath": "$beat"}),
        ),
    ]);
    let ran = slow(def, json!({}), 0.0);
    assert_eq!(ran.calls[0].heartbeat, Some(7));
}

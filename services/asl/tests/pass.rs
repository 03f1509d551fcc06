//! Pass: Result, Parameters (`.$`, `$$`, intrinsics), InputPath/ResultPath/OutputPath.
//! AWS: "Pass workflow state" and "Processing input and output" (InputPath, Parameters,
//! ResultSelector, ResultPath, OutputPath) in the Step Functions developer guide.

use crate::util::*;
use serde_json::json;

fn pass(state: serde_json::Value) -> serde_json::Value {
    let mut state = state;
    state["Type"] = json!("Pass");
    single(state)
}

#[test]
fn without_result_passes_input() {
    run_ok(pass(json!({})), json!({"a": 1}), json!({"a": 1}));
}

#[test]
fn result_replaces_input() {
    run_ok(
        pass(json!({"Result": {"r": [1, 2]}})),
        json!({"a": 1}),
        json!({"r": [1, 2]}),
    );
}

#[test]
fn result_may_be_any_json() {
    run_ok(pass(json!({"Result": "text"})), json!({}), json!("text"));
    run_ok(pass(json!({"Result": null})), json!({}), json!(null));
}

#[test]
fn parameters_literal_and_path() {
    run_ok(
        pass(json!({"Parameters": {"lit": "x", "v.$": "$.a.b", "nested": {"w.$": "$.c"}}})),
        json!({"a": {"b": 2}, "c": [3]}),
        json!({"lit": "x", "v": 2, "nested": {"w": [3]}}),
    );
}

#[test]
fn parameters_read_context_object() {
    run_ok(
        pass(json!({"Parameters": {"state.$": "$$.State.Name", "input.$": "$$.Execution.Input"}})),
        json!({"k": 1}),
        json!({"state": "S", "input": {"k": 1}}),
    );
}

#[test]
fn parameters_call_intrinsics() {
    run_ok(
        pass(json!({"Parameters": {
            "f.$": "States.Format('{} is {}', $.n, $.v)",
            "a.$": "States.Array($.n, 2)",
            "s.$": "States.MathAdd($.v, 1)"
        }})),
        json!({"n": "x", "v": 41}),
        json!({"f": "x is 41", "a": ["x", 2], "s": 42}),
    );
}

#[test]
fn parameters_missing_path_is_runtime_error() {
    run_cause(
        pass(json!({"Parameters": {"v.$": "$.missing"}})),
        json!({"a": 1}),
        "States.Runtime",
        "The JSONPath '$.missing' specified for the field 'v.$' could not be found in the input",
    );
}

#[test]
fn result_path_into_nested_new_fields() {
    run_ok(
        pass(json!({"Result": "r", "ResultPath": "$.a.b.c"})),
        json!({"x": 1}),
        json!({"x": 1, "a": {"b": {"c": "r"}}}),
    );
}

#[test]
fn result_path_overwrites_existing_field() {
    run_ok(
        pass(json!({"Result": 2, "ResultPath": "$.a"})),
        json!({"a": 1, "b": 1}),
        json!({"a": 2, "b": 1}),
    );
}

#[test]
fn result_path_null_discards_result() {
    run_ok(
        pass(json!({"Result": 2, "ResultPath": null})),
        json!({"a": 1}),
        json!({"a": 1}),
    );
}

#[test]
fn result_path_keeps_raw_input_not_input_path_view() {
    // ResultPath writes into the state's raw input, not the InputPath selection.
    run_ok(
        pass(json!({"InputPath": "$.a", "ResultPath": "$.copy"})),
        json!({"a": {"x": 1}, "b": 2}),
        json!({"a": {"x": 1}, "b": 2, "copy": {"x": 1}}),
    );
}

#[test]
fn output_path_selects() {
    run_ok(
        pass(json!({"Result": {"a": {"b": 2}}, "OutputPath": "$.a"})),
        json!({}),
        json!({"b": 2}),
    );
}

#[test]
fn output_path_null_gives_empty_object() {
    run_ok(
        pass(json!({"OutputPath": null})),
        json!({"a": 1}),
        json!({}),
    );
}

#[test]
fn input_path_selects() {
    run_ok(
        pass(json!({"InputPath": "$.a"})),
        json!({"a": [1]}),
        json!([1]),
    );
}

#[test]
fn input_path_null_gives_empty_object() {
    run_ok(pass(json!({"InputPath": null})), json!({"a": 1}), json!({}));
}

#[test]
fn input_path_missing_is_runtime_error() {
    run_err(
        pass(json!({"InputPath": "$.nope"})),
        json!({"a": 1}),
        "States.Runtime",
    );
}

#[test]
fn full_pipeline_order() {
    // InputPath → Parameters → ResultPath (into the raw input) → OutputPath.
    run_ok(
        pass(json!({
            "InputPath": "$.in",
            "Parameters": {"p.$": "$.v"},
            "ResultPath": "$.out",
            "OutputPath": "$.out"
        })),
        json!({"in": {"v": 7}}),
        json!({"p": 7}),
    );
}

//! Data flow between states: each state's output is the next one's input, and the
//! InputPath → Parameters → ResultSelector → ResultPath → OutputPath pipeline composes.
//! AWS: "Processing input and output in Step Functions".

use crate::util::*;
use serde_json::json;

const RES: &str = "arn:aws:states:::test:run";

#[test]
fn output_feeds_the_next_state() {
    let def = chain(&[
        (
            "A",
            json!({"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.a"}),
        ),
        (
            "B",
            json!({"Type": "Pass", "Parameters": {"from_a.$": "$.a.n", "orig.$": "$.orig"}}),
        ),
    ]);
    run_ok(
        def,
        json!({"orig": true}),
        json!({"from_a": 1, "orig": true}),
    );
}

#[test]
fn the_guide_example_pipeline() {
    // InputPath narrows, Parameters shapes the task input, ResultSelector shapes the
    // result, ResultPath puts it back into the raw input, OutputPath filters.
    let def = single(json!({
        "Type": "Task", "Resource": RES,
        "InputPath": "$.library",
        "Parameters": {"book.$": "$.title"},
        "ResultSelector": {"price.$": "$.cost"},
        "ResultPath": "$.library.quote",
        "OutputPath": "$.library"
    }));
    let ran = run_script(def, json!({"library": {"title": "T"}, "other": 1}), |c| {
        assert_eq!(c.input, json!({"book": "T"}));
        ok(json!({"cost": 9, "currency": "EUR"}))
    });
    assert_eq!(ran.output(), json!({"title": "T", "quote": {"price": 9}}));
}

#[test]
fn parameters_see_the_input_path_view() {
    let def = single(json!({"Type": "Pass", "InputPath": "$.a", "Parameters": {"v.$": "$.b"}}));
    run_ok(def, json!({"a": {"b": 1}, "b": 2}), json!({"v": 1}));
}

#[test]
fn result_path_to_array_element_of_input() {
    let def = single(json!({"Type": "Pass", "Result": "x", "ResultPath": "$.list[1]"}));
    run_ok(
        def,
        json!({"list": [0, 1, 2]}),
        json!({"list": [0, "x", 2]}),
    );
}

#[test]
fn result_path_into_a_non_object_input_fails() {
    // The raw input is a string: there is nowhere to put `$.r`.
    let def = single(json!({"Type": "Pass", "Result": 1, "ResultPath": "$.r"}));
    let ran = run(def, json!("text"));
    assert_eq!(ran.outcome.status, asl::Status::Failed);
}

#[test]
fn output_path_missing_is_runtime_error() {
    let def = single(json!({"Type": "Pass", "OutputPath": "$.nope"}));
    run_err(def, json!({"a": 1}), "States.Runtime");
}

#[test]
fn succeed_applies_input_and_output_path() {
    let def = single(json!({"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}));
    run_ok(def, json!({"a": {"b": [1]}}), json!([1]));
}

#[test]
fn non_object_inputs_flow_through() {
    let def = chain(&[
        ("A", json!({"Type": "Pass"})),
        (
            "B",
            json!({"Type": "Pass", "Parameters": {"wrapped.$": "$"}}),
        ),
    ]);
    run_ok(
        def,
        json!([1, "two", null]),
        json!({"wrapped": [1, "two", null]}),
    );
}

#[test]
fn parameters_apply_inside_nested_objects_not_strings() {
    let def = single(json!({"Type": "Pass", "Parameters": {
        "a": {"b": {"c.$": "$.v"}},
        "text": "$.v"
    }}));
    run_ok(
        def,
        json!({"v": 1}),
        json!({"a": {"b": {"c": 1}}, "text": "$.v"}),
    );
}

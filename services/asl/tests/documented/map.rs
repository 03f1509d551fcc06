//! Map, field by field. AWS: "Map workflow state"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/state-map.html): ItemsPath selects
//! the array from the effective input (after InputPath); ItemSelector builds each item's
//! input with `$$.Map.Item.Index` / `.Value`; MaxConcurrencyPath reads the state input;
//! the result is the array of iteration outputs, then ResultSelector → ResultPath →
//! OutputPath. In JSONata, `Items` and `ItemSelector` are expressions, `$states.context.Map.Item`
//! is bound in ItemSelector.

use crate::util::*;
use serde_json::{json, Value};

fn echo() -> Value {
    json!({"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "E",
           "States": {"E": {"Type": "Pass", "End": true}}})
}

#[test]
fn the_full_jsonpath_pipeline_in_order() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"tag": "t"}})),
        (
            "M",
            json!({"Type": "Map",
                   "InputPath": "$.in",
                   "ItemsPath": "$.list",
                   "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "tag.$": "$tag", "k.$": "$.k"},
                   "ItemProcessor": echo(),
                   "ResultSelector": {"n.$": "States.ArrayLength($)", "last.$": "$[1]"},
                   "ResultPath": "$.in.res",
                   "OutputPath": "$.in.res"}),
        ),
    ]);
    run_ok(
        def,
        json!({"in": {"list": ["a", "b"], "k": 0}}),
        json!({"n": 2, "last": {"i": 1, "v": "b", "tag": "t", "k": 0}}),
    );
}

#[test]
fn items_path_reads_a_variable_and_the_context_object() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"xs": [1, 2, 3]}})),
        (
            "M",
            json!({"Type": "Map", "ItemsPath": "$xs", "ItemProcessor": echo()}),
        ),
    ]);
    run_ok(def, json!({}), json!([1, 2, 3]));
    let def = single(
        json!({"Type": "Map", "InputPath": "$.x", "ItemsPath": "$$.Execution.Input.ys", "ItemProcessor": echo()}),
    );
    run_ok(def, json!({"x": {}, "ys": [4]}), json!([4]));
}

#[test]
fn max_concurrency_path_reads_a_variable() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"c": 1}})),
        (
            "M",
            json!({"Type": "Map", "MaxConcurrencyPath": "$c",
                   "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "W",
                                     "States": {"W": {"Type": "Wait", "Seconds": 2, "End": true}}}}),
        ),
    ]);
    let ran = run(def, json!([1, 2, 3]));
    assert_eq!(ran.output(), json!([1, 2, 3]));
    assert_eq!(ran.elapsed_s(), 6.0);
}

#[test]
fn assign_reads_the_result_array_and_iterations_do_not_leak() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"v": "outer"}})),
        (
            "M",
            json!({"Type": "Map", "ItemsPath": "$.xs",
                   "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I",
                                     "States": {"I": {"Type": "Pass", "Assign": {"v": "inner"}, "Parameters": {"saw.$": "$v"}, "End": true}}},
                   "Assign": {"count.$": "States.ArrayLength($)"},
                   "ResultPath": "$.out"}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"v.$": "$v", "count.$": "$count", "out.$": "$.out"}}),
        ),
    ]);
    run_ok(
        def,
        json!({"xs": [0, 0]}),
        json!({"v": "outer", "count": 2, "out": [{"saw": "outer"}, {"saw": "outer"}]}),
    );
}

#[test]
fn jsonata_items_item_selector_and_output() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map",
                  "Items": "{% $states.input.xs %}",
                  "ItemSelector": {"i": "{% $states.context.Map.Item.Index %}", "v": "{% $states.context.Map.Item.Value * 2 %}"},
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "E",
                                    "States": {"E": {"Type": "Pass", "End": true}}},
                  "Assign": {"n": "{% $count($states.result) %}"},
                  "Output": {"r": "{% $states.result %}"},
                  "Next": "Read"},
            "Read": {"Type": "Pass", "Output": {"n": "{% $n %}", "got": "{% $states.input %}"}, "End": true}
        }
    });
    run_ok(
        def,
        json!({"xs": [1, 2]}),
        json!({"n": 2, "got": {"r": [{"i": 0, "v": 2}, {"i": 1, "v": 4}]}}),
    );
}

#[test]
fn jsonata_items_must_be_an_array() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "Items": "{% $states.input.x %}",
                         "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "E",
                                           "States": {"E": {"Type": "Pass", "End": true}}},
                         "End": true}}
    });
    assert_eq!(
        run(def, json!({"x": 1})).error(),
        "States.QueryEvaluationError"
    );
}

#[test]
fn jsonpath_items_path_to_a_non_array_is_a_runtime_error() {
    let def = single(json!({"Type": "Map", "ItemsPath": "$.x", "ItemProcessor": echo()}));
    run_err(def, json!({"x": {"a": 1}}), "States.Runtime");
}

#[test]
fn max_concurrency_path_reads_the_context_object() {
    let def = single(json!({"Type": "Map", "ItemsPath": "$.xs",
        "MaxConcurrencyPath": "$$.Execution.Input.c",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "W",
                          "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}}));
    let ran = run(def, json!({"c": 2, "xs": [1, 2, 3, 4]}));
    assert_eq!(ran.output(), json!([1, 2, 3, 4]));
    assert_eq!(ran.elapsed_s(), 2.0);
}

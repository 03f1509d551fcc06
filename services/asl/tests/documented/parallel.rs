//! Parallel, field by field. AWS: "Parallel workflow state"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html): every branch
//! gets the state's effective input (after InputPath and Parameters); the result is the
//! array of branch outputs, in branch order, which ResultSelector, ResultPath and OutputPath
//! then process. Branches read the outer variables but their assignments stay inside
//! ("Passing data between states with variables"); JSONata `Arguments` is the branches'
//! input and `$states.result` the array.

use crate::util::*;
use serde_json::{json, Value};

/// A one-state branch; state names are unique across the whole machine.
fn branch(name: &str, state: Value) -> Value {
    json!({"StartAt": name, "States": {name: state}})
}

#[test]
fn the_full_jsonpath_pipeline_in_order() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"v": 10}})),
        (
            "P",
            json!({"Type": "Parallel",
                   "InputPath": "$.in",
                   "Parameters": {"a.$": "$.a", "v.$": "$v"},
                   "Branches": [
                       branch("B1", json!({"Type": "Pass", "End": true})),
                       branch("B2", json!({"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $v)"}, "End": true}))
                   ],
                   "ResultSelector": {"first.$": "$[0]", "sum.$": "$[1].sum", "name.$": "$$.State.Name"},
                   "ResultPath": "$.in.res",
                   "OutputPath": "$.in"}),
        ),
    ]);
    run_ok(
        def,
        json!({"in": {"a": 1}, "drop": true}),
        json!({"a": 1, "res": {"first": {"a": 1, "v": 10}, "sum": 11, "name": "P"}}),
    );
}

#[test]
fn assign_reads_the_array_after_result_selector() {
    let def = chain(&[
        (
            "P",
            json!({"Type": "Parallel",
                   "Branches": [branch("B3", json!({"Type": "Pass", "Result": 1, "End": true})),
                                branch("B4", json!({"Type": "Pass", "Result": 2, "End": true}))],
                   "ResultSelector": {"both.$": "$"},
                   "Assign": {"second.$": "$.both[1]"}}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"second.$": "$second", "in.$": "$"}}),
        ),
    ]);
    run_ok(def, json!({}), json!({"second": 2, "in": {"both": [1, 2]}}));
}

#[test]
fn branch_assignments_do_not_leak_and_outer_ones_are_read() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"v": "outer"}})),
        (
            "P",
            json!({"Type": "Parallel", "ResultPath": null,
                   "Branches": [branch("B5", json!({"Type": "Pass", "Assign": {"v": "inner"}, "Parameters": {"saw.$": "$v"}, "End": true}))]}),
        ),
        ("Read", json!({"Type": "Pass", "Parameters": {"v.$": "$v"}})),
    ]);
    run_ok(def, json!({}), json!({"v": "outer"}));
}

#[test]
fn jsonata_arguments_result_and_output() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel",
                  "Arguments": {"x": "{% $states.input.x + 1 %}"},
                  "Branches": [
                      {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Output": "{% $states.input.x %}", "End": true}}},
                      {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Output": "{% $states.input.x * 10 %}", "End": true}}}
                  ],
                  "Assign": {"total": "{% $sum($states.result) %}"},
                  "Output": {"r": "{% $states.result %}", "in": "{% $states.input.x %}"},
                  "Next": "Read"},
            "Read": {"Type": "Pass", "Output": {"total": "{% $total %}", "got": "{% $states.input %}"}, "End": true}
        }
    });
    run_ok(
        def,
        json!({"x": 1}),
        json!({"total": 22, "got": {"r": [2, 20], "in": 1}}),
    );
}

//! Pass, field by field. AWS: "Pass workflow state"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/state-pass.html) and "Processing
//! input and output in Step Functions"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html):
//! InputPath → Parameters → (Result) → ResultPath → OutputPath; `Result` is the state's
//! result, else its effective input; variables and `$$` are accepted wherever a path is
//! ("Passing data between states with variables", "Accessing execution data from the
//! Context object"). JSONata: "Transforming data with JSONata" — Output on `$states.input`.

use crate::util::*;
use serde_json::json;

#[test]
fn input_path_reads_a_variable() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"v": {"a": 1}}})),
        ("P", json!({"Type": "Pass", "InputPath": "$v"})),
    ]);
    run_ok(def, json!({"other": true}), json!({"a": 1}));
}

#[test]
fn input_path_reads_the_context_object() {
    let def = single(json!({"Type": "Pass", "InputPath": "$$.Execution.Input.x"}));
    run_ok(def, json!({"x": [1, 2]}), json!([1, 2]));
}

#[test]
fn output_path_reads_variables_and_context() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"v": "var"}})),
        ("P", json!({"Type": "Pass", "OutputPath": "$v"})),
        ("Q", json!({"Type": "Pass", "OutputPath": "$$.State.Name"})),
    ]);
    run_ok(def, json!({}), json!("Q"));
}

#[test]
fn parameters_read_variables_context_and_the_input_path_view() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"v": 2}})),
        (
            "P",
            json!({"Type": "Pass", "InputPath": "$.in",
                   "Parameters": {"fromInput.$": "$.a", "fromVar.$": "$v", "name.$": "$$.State.Name",
                                  "sum.$": "States.MathAdd($.a, $v)"}}),
        ),
    ]);
    run_ok(
        def,
        json!({"in": {"a": 1}}),
        json!({"fromInput": 1, "fromVar": 2, "name": "P", "sum": 3}),
    );
}

#[test]
fn result_wins_over_parameters() {
    // With both, Parameters shapes the effective input and Result is the result.
    let def = single(
        json!({"Type": "Pass", "Parameters": {"p": 1}, "Result": {"r": 2}, "ResultPath": "$.res"}),
    );
    run_ok(def, json!({"i": 0}), json!({"i": 0, "res": {"r": 2}}));
}

#[test]
fn without_result_the_parameters_are_the_result() {
    let def = single(json!({"Type": "Pass", "Parameters": {"p": 1}, "ResultPath": "$.res"}));
    run_ok(def, json!({"i": 0}), json!({"i": 0, "res": {"p": 1}}));
}

#[test]
fn result_path_cannot_be_a_variable_or_context_path() {
    // ResultPath is a reference path into the state's input: `$var` and `$$` are refused.
    rejected(single(json!({"Type": "Pass", "ResultPath": "$v"})));
    rejected(single(json!({"Type": "Pass", "ResultPath": "$$.State"})));
}

#[test]
fn assign_reads_the_result_and_output_path_the_combined_output() {
    let def = chain(&[
        (
            "P",
            json!({"Type": "Pass", "Result": {"r": 1}, "Assign": {"seen.$": "$.r"},
                   "ResultPath": "$.res", "OutputPath": "$.res"}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"seen.$": "$seen", "in.$": "$"}}),
        ),
    ]);
    run_ok(def, json!({"i": 0}), json!({"seen": 1, "in": {"r": 1}}));
}

#[test]
fn jsonata_output_and_assign_read_states_input() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Assign": {"x": "{% $states.input.a %}"},
                  "Output": {"b": "{% $states.input.a * 2 %}", "name": "{% $states.context.State.Name %}"},
                  "Next": "Read"},
            "Read": {"Type": "Pass", "Output": {"x": "{% $x %}", "in": "{% $states.input %}"}, "End": true}
        }
    });
    run_ok(
        def,
        json!({"a": 3}),
        json!({"x": 3, "in": {"b": 6, "name": "P"}}),
    );
}

#[test]
fn jsonata_pass_without_output_passes_its_input() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P",
                     "States": {"P": {"Type": "Pass", "End": true}}});
    run_ok(def, json!({"a": 3}), json!({"a": 3}));
}

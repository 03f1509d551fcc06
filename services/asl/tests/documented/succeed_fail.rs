//! Succeed and Fail, field by field. AWS: "Succeed workflow state"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/state-succeed.html): InputPath and
//! OutputPath apply, there is no result; "Fail workflow state"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html): ErrorPath and
//! CausePath are reference paths (variables and `$$` allowed) or intrinsic functions that
//! must yield strings; in JSONata `Error` and `Cause` take expressions.

use crate::util::*;
use serde_json::json;

#[test]
fn succeed_input_and_output_path_read_variables_and_context() {
    let def = chain(&[
        (
            "Set",
            json!({"Type": "Pass", "Assign": {"v": {"k": "kept"}}}),
        ),
        (
            "S",
            json!({"Type": "Succeed", "InputPath": "$v", "OutputPath": "$.k"}),
        ),
    ]);
    run_ok(def, json!({}), json!("kept"));
    let def = single(json!({"Type": "Succeed", "OutputPath": "$$.Execution.Name"}));
    run_ok(def, json!({}), json!("run"));
}

#[test]
fn succeed_in_jsonata_outputs_its_expression() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "S",
                     "States": {"S": {"Type": "Succeed", "Output": "{% $states.input.a + 1 %}"}}});
    run_ok(def, json!({"a": 1}), json!(2));
}

#[test]
fn fail_error_path_and_cause_path_from_variables_and_context() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"e": "My.Error"}})),
        (
            "F",
            json!({"Type": "Fail", "ErrorPath": "$e", "CausePath": "$$.State.Name"}),
        ),
    ]);
    let ran = run(def, json!({}));
    assert_eq!(ran.error(), "My.Error");
    assert_eq!(ran.cause(), "F");
}

#[test]
fn fail_cause_path_intrinsic_reads_variables() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"who": "x"}})),
        (
            "F",
            json!({"Type": "Fail", "Error": "E", "CausePath": "States.Format('bad {}', $who)"}),
        ),
    ]);
    let ran = run(def, json!({}));
    assert_eq!(ran.cause(), "bad x");
}

#[test]
fn fail_in_jsonata_error_and_cause_expressions() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "F",
                     "States": {"F": {"Type": "Fail",
                                      "Error": "{% 'E.' & $states.input.code %}",
                                      "Cause": "{% $states.context.State.Name %}"}}});
    let ran = run(def, json!({"code": "X"}));
    assert_eq!(ran.error(), "E.X");
    assert_eq!(ran.cause(), "F");
}

#[test]
fn fail_in_jsonata_with_a_non_string_error_is_a_query_evaluation_error() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "F",
                     "States": {"F": {"Type": "Fail", "Error": "{% 5 %}"}}});
    assert_eq!(run(def, json!({})).error(), "States.QueryEvaluationError");
}

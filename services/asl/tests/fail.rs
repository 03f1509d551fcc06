//! Fail: Error/Cause literals, ErrorPath/CausePath, intrinsics in CausePath.
//! AWS: "Fail workflow state".

use crate::util::*;
use serde_json::json;

#[test]
fn error_and_cause() {
    let ran = run(
        single(json!({"Type": "Fail", "Error": "MyError", "Cause": "my cause"})),
        json!({}),
    );
    assert_eq!(ran.outcome.status, asl::Status::Failed);
    assert_eq!((ran.error(), ran.cause()), ("MyError", "my cause"));
}

#[test]
fn fail_without_error_or_cause() {
    let ran = run(single(json!({"Type": "Fail"})), json!({}));
    assert_eq!(ran.outcome.status, asl::Status::Failed);
    assert_eq!(ran.outcome.error, None);
    assert_eq!(ran.outcome.cause, None);
}

#[test]
fn error_path_and_cause_path() {
    let ran = run(
        single(json!({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c.text"})),
        json!({"e": "FromInput", "c": {"text": "because"}}),
    );
    assert_eq!((ran.error(), ran.cause()), ("FromInput", "because"));
}

#[test]
fn cause_path_intrinsic() {
    let ran = run(
        single(json!({"Type": "Fail", "Error": "E",
                      "CausePath": "States.Format('item {} failed', $.id)"})),
        json!({"id": 7}),
    );
    assert_eq!(ran.cause(), "item 7 failed");
}

#[test]
fn error_path_reads_context_and_variables() {
    let def = chain(&[
        (
            "Set",
            json!({"Type": "Pass", "Assign": {"why": "var cause"}}),
        ),
        (
            "F",
            json!({"Type": "Fail", "ErrorPath": "$$.State.Name", "CausePath": "$why"}),
        ),
    ]);
    let ran = run(def, json!({}));
    assert_eq!((ran.error(), ran.cause()), ("F", "var cause"));
}

#[test]
fn error_path_to_non_string_is_runtime_error() {
    run_err(
        single(json!({"Type": "Fail", "ErrorPath": "$.e"})),
        json!({"e": 5}),
        "States.Runtime",
    );
}

#[test]
fn error_path_missing_is_runtime_error() {
    run_err(
        single(json!({"Type": "Fail", "ErrorPath": "$.e"})),
        json!({}),
        "States.Runtime",
    );
}

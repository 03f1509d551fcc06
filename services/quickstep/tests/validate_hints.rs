//! `quickstep validate`'s hint lines: under a diagnostic whose AWS message does not name the
//! offending value, a `  hint: …` line does; AWS's message itself is printed unchanged.

use assert_cmd::Command;

/// Validates `definition`; returns (exit code, stdout).
fn validate(name: &str, definition: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("{name}.asl.json"));
    std::fs::write(&path, definition).expect("write");
    let output = Command::cargo_bin("quickstep")
        .expect("the binary is built")
        .arg("validate")
        .arg(&path)
        .output()
        .expect("runs");
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// The line after the one holding `diagnostic`, which must be a hint.
fn hint_after<'a>(stdout: &'a str, diagnostic: &str) -> &'a str {
    let mut lines = stdout.lines();
    lines
        .by_ref()
        .find(|l| l.contains(diagnostic))
        .unwrap_or_else(|| panic!("no line with {diagnostic:?} in:\n{stdout}"));
    let next = lines.next().unwrap_or_default();
    next.strip_prefix("  hint: ")
        .unwrap_or_else(|| panic!("no hint after {diagnostic:?} in:\n{stdout}"))
}

#[test]
fn an_unknown_state_type_is_named() {
    let (code, out) = validate(
        "teleport",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": true}}}"#,
    );
    assert_eq!(code, 1);
    // AWS's message, exactly, then the hint.
    assert!(out.contains("ERROR SCHEMA_VALIDATION_FAILED: The value for the field 'Type' must be one of: [Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map] at /States/A/Type\n"), "{out}");
    assert_eq!(
        hint_after(&out, "field 'Type'"),
        "'Teleport' is not a state type"
    );
}

#[test]
fn a_misspelt_state_type_gets_a_suggestion() {
    let (_, out) = validate(
        "paas",
        r#"{"StartAt": "A", "States": {"A": {"Type": "pass", "End": true}}}"#,
    );
    assert_eq!(
        hint_after(&out, "field 'Type'"),
        "'pass' is not a state type; did you mean 'Pass'?"
    );
}

#[test]
fn an_unknown_intrinsic_function_is_named() {
    let (code, out) = validate(
        "nope",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "States.Nope($.a)"}, "End": true}}}"#,
    );
    assert_eq!(code, 1);
    assert_eq!(
        hint_after(&out, "field 'x.$'"),
        "'States.Nope' is not an intrinsic function"
    );
    let (_, out) = validate(
        "near",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "States.Fromat('{}', $.a)"}, "End": true}}}"#,
    );
    assert_eq!(
        hint_after(&out, "field 'x.$'"),
        "'States.Fromat' is not an intrinsic function; did you mean 'States.Format'?"
    );
}

#[test]
fn a_wrong_intrinsic_arity_says_why() {
    let (_, out) = validate(
        "arity",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "States.MathAdd(1)"}, "End": true}}}"#,
    );
    let hint = hint_after(&out, "field 'x.$'");
    assert!(
        hint.starts_with("'States.MathAdd(1)' is not a valid intrinsic function call: "),
        "{hint}"
    );
}

#[test]
fn a_bad_path_is_named_with_the_reason() {
    let (_, out) = validate(
        "path",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$$$bad", "End": true}}}"#,
    );
    let hint = hint_after(&out, "field 'InputPath'");
    assert!(
        hint.starts_with("'$$$bad' is not a valid JSONPath: "),
        "{hint}"
    );
}

#[test]
fn a_missing_next_target_lists_or_suggests_states() {
    let (_, out) = validate(
        "next",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Succeed"}}}"#,
    );
    assert!(
        out.contains("Missing 'Next' target: Nowhere at /States/A/Next"),
        "{out}"
    );
    assert_eq!(
        hint_after(&out, "Missing 'Next' target"),
        "no state here is named 'Nowhere'; the states here are 'A', 'B'"
    );
    let (_, out) = validate(
        "typo",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Finsh"}, "Finish": {"Type": "Succeed"}}}"#,
    );
    assert_eq!(
        hint_after(&out, "Missing 'Next' target"),
        "no state here is named 'Finsh'; did you mean 'Finish'?"
    );
}

#[test]
fn an_unknown_field_close_to_a_known_one_gets_a_suggestion() {
    let (_, out) = validate(
        "field",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "OutputPth": "$", "End": true}}}"#,
    );
    assert_eq!(
        hint_after(&out, "'OutputPth' is not supported"),
        "'OutputPth' is not a field here; did you mean 'OutputPath'?"
    );
    let (_, out) = validate(
        "operator",
        r#"{"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEqualz": 1, "Next": "D"}]}, "D": {"Type": "Succeed"}}}"#,
    );
    assert_eq!(
        hint_after(&out, "'NumericEqualz' is not supported"),
        "'NumericEqualz' is not a field here; did you mean 'NumericEquals'?"
    );
}

#[test]
fn a_wait_out_of_range_shows_the_value() {
    let (_, out) = validate(
        "wait",
        r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": -4, "End": true}}}"#,
    );
    assert_eq!(
        hint_after(&out, "field 'Seconds'"),
        "-4 is not an integer from 0 to 99999999"
    );
}

#[test]
fn messages_that_name_the_value_get_no_hint() {
    // AWS's message names 'Colour' already, and nothing known is close to it.
    let (code, out) = validate(
        "colour",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Colour": "red", "End": true}}}"#,
    );
    assert_eq!(code, 1);
    assert!(!out.contains("hint:"), "{out}");
    // A valid definition prints OK and no hint.
    let (code, out) = validate(
        "ok",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#,
    );
    assert_eq!((code, out.as_str()), (0, "OK\n"));
}

#[test]
fn any_other_value_aws_does_not_name_is_quoted() {
    let (_, out) = validate(
        "retry",
        r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Retry": [{"ErrorEquals": ["E"], "JitterStrategy": "SOME"}], "End": true}}}"#,
    );
    assert_eq!(
        hint_after(&out, "field 'JitterStrategy'"),
        "the value here is 'SOME'"
    );
}

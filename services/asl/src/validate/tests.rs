//! Validation judgements, one definition each: the code and location AWS gives.

use super::*;
use serde_json::json;

fn errors(def: &Value) -> Vec<Diagnostic> {
    validate(def).into_iter().filter(|d| d.severity == Severity::Error).collect()
}

/// No error for this definition.
fn valid(def: Value) {
    let errs = errors(&def);
    assert!(errs.is_empty(), "expected valid, got {errs:#?}\nfor {def}");
}

/// Some error with this code at this location.
fn invalid(def: Value, code: &str, location: &str) {
    let diags = validate(&def);
    assert!(
        diags.iter().any(|d| d.code.as_str() == code && d.location == location && d.severity == Severity::Error),
        "expected {code} at {location}, got {diags:#?}\nfor {def}"
    );
}

/// A one-state machine `{StartAt: A, States: {A: state}}`.
fn one(state: Value) -> Value {
    json!({"StartAt": "A", "States": {"A": state}})
}

/// A JSONata one-state machine.
fn one_jsonata(state: Value) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": state}})
}

/// A Task with the given extra fields, ending the machine.
fn task(extra: Value) -> Value {
    let mut t = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true});
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    one(t)
}

fn choice(rule: Value) -> Value {
    json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [rule], "Default": "B"},
        "B": {"Type": "Succeed"}}})
}

const SVF: &str = "SCHEMA_VALIDATION_FAILED";
const MTT: &str = "MISSING_TRANSITION_TARGET";

// Top level.
#[test] fn minimal_is_valid() { valid(one(json!({"Type": "Pass", "End": true}))) }
#[test] fn not_an_object() { assert_eq!(validate(&json!([1]))[0].message, "Definition must be a valid JSON object") }
#[test] fn missing_start_and_states() { assert_eq!(validate(&json!({}))[0].to_string(), "SCHEMA_VALIDATION_FAILED: These fields are required: [States, StartAt] at /") }
#[test] fn missing_states() { invalid(json!({"StartAt": "A"}), SVF, "/") }
#[test] fn start_at_unknown() { invalid(json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}), MTT, "/StartAt") }
#[test] fn start_at_not_string() { invalid(json!({"StartAt": 1, "States": {"A": {"Type": "Succeed"}}}), SVF, "/StartAt") }
#[test] fn states_empty() { invalid(json!({"StartAt": "A", "States": {}}), SVF, "/States") }
#[test] fn states_not_object() { invalid(json!({"StartAt": "A", "States": []}), SVF, "/States") }
#[test] fn unknown_top_field() { invalid(json!({"StartAt": "A", "Foo": 1, "States": {"A": {"Type": "Succeed"}}}), SVF, "/") }
#[test] fn top_fields_allowed() { valid(json!({"Comment": "c", "Version": "1.0", "TimeoutSeconds": 5, "QueryLanguage": "JSONPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}})) }
#[test] fn top_timeout_positive() { invalid(json!({"TimeoutSeconds": 0, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}), SVF, "/TimeoutSeconds") }
#[test] fn top_query_language_unknown() { invalid(json!({"QueryLanguage": "XPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}), SVF, "/QueryLanguage") }

// States.
#[test] fn type_required() { invalid(one(json!({"End": true})), SVF, "/States/A") }
#[test] fn type_unknown() { invalid(one(json!({"Type": "Sleep", "End": true})), SVF, "/States/A/Type") }
#[test] fn state_not_object() { invalid(one(json!(3)), SVF, "/States/A") }
#[test] fn unknown_state_field() { invalid(one(json!({"Type": "Pass", "End": true, "Foo": 1})), SVF, "/States/A") }
#[test] fn next_on_succeed() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}}), SVF, "/States/A") }
#[test] fn next_on_fail() { invalid(one(json!({"Type": "Fail", "Next": "A"})), SVF, "/States/A") }
#[test] fn end_on_choice() { invalid(choice(json!({"Variable": "$.x", "IsNull": true, "Next": "B", "End": true})), SVF, "/States/C/Choices/0") }
#[test] fn end_field_on_choice_state() { invalid(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "End": true, "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}]}, "B": {"Type": "Succeed"}}}), SVF, "/States/C") }
#[test] fn next_and_end() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B", "End": true}, "B": {"Type": "Succeed"}}}), SVF, "/States/A") }
#[test] fn neither_next_nor_end() { invalid(one(json!({"Type": "Pass"})), SVF, "/States/A") }
#[test] fn end_false_alone() { invalid(one(json!({"Type": "Pass", "End": false})), SVF, "/States/A") }
#[test] fn end_not_bool() { invalid(one(json!({"Type": "Pass", "End": "yes"})), SVF, "/States/A/End") }
#[test] fn next_missing_target() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}, "B": {"Type": "Succeed"}}}), MTT, "/States/A/Next") }
#[test] fn next_not_string() { invalid(one(json!({"Type": "Pass", "Next": 1})), SVF, "/States/A/Next") }
#[test] fn unreachable_state() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}), MTT, "/States/B") }
#[test] fn no_terminal_state() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}), "MISSING_END_STATE", "/") }
#[test] fn state_name_too_long() { let n = "x".repeat(81); invalid(json!({"StartAt": n, "States": {n.clone(): {"Type": "Succeed"}}}), "INVALID_STATE_NAME", &format!("/States/{n}")) }
#[test] fn duplicate_name_across_branches() { invalid(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}]}}}), "DUPLICATE_STATE_NAME", "/States/P/Branches/0/States/P") }
#[test] fn duplicate_name_in_text() { let d = validate_text(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"},"A":{"Type":"Succeed"}}}"#); assert!(d.iter().any(|d| d.code == DiagnosticCode::DuplicateStateName && d.location == "/States/A"), "{d:#?}") }
#[test] fn duplicate_fields_in_text_are_pointed_at_in_document_order() {
    let d = validate_text(r#"{"StartAt":"A","Comment":"x","States":{"A":{"Type":"Pass","End":true,"Parameters":{"list":[{"k":1,"k":2,"k":3}]},"End":true}},"Comment":"y"}"#);
    let found: Vec<(&str, &str, &str)> = d.iter().filter(|d| d.message.starts_with("Duplicate")).map(|d| (d.code.as_str(), d.message.as_str(), d.location.as_str())).collect();
    assert_eq!(found, [
        ("SCHEMA_VALIDATION_FAILED", "Duplicate field: k", "/States/A/Parameters/list/0/k"),
        ("SCHEMA_VALIDATION_FAILED", "Duplicate field: k", "/States/A/Parameters/list/0/k"),
        ("SCHEMA_VALIDATION_FAILED", "Duplicate field: End", "/States/A/End"),
        ("SCHEMA_VALIDATION_FAILED", "Duplicate field: Comment", "/Comment"),
    ]);
}
#[test] fn next_into_other_scope() { invalid(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "P"}}}]}}}), MTT, "/States/P/Branches/0/States/B/Next") }
#[test] fn pointer_escapes() { invalid(json!({"StartAt": "a/b", "States": {"a/b": {"Type": "Pass", "Next": "z"}}}), MTT, "/States/a~1b/Next") }

// Text.
#[test] fn text_not_json() { assert_eq!(validate_text("{")[0].code, DiagnosticCode::InvalidJsonDescription) }
#[test] fn text_blank() { let d = validate_text(" "); assert_eq!((d[0].code, d[0].location.as_str()), (DiagnosticCode::SchemaValidationFailed, "")) }
#[test] fn text_valid() { assert!(validate_text(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#).is_empty()) }
#[test] fn aws_message_joins() {
    let d = validate(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}, "B": {"Type": "Succeed"}}}));
    assert_eq!(aws_message(&d), "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /States/A/Next, MISSING_TRANSITION_TARGET: State \"B\" is not reachable. at /States/B'");
}
#[test] fn codes_round_trip() { for (code, s) in CODES { assert_eq!(DiagnosticCode::parse(s), Some(*code)); assert_eq!(code.to_string(), *s) } }

// Pass / Wait / Fail / Succeed.
#[test] fn pass_result_ok() { valid(one(json!({"Type": "Pass", "Result": {"a": 1}, "ResultPath": "$.r", "End": true}))) }
#[test] fn pass_result_static_warns() { let d = validate(&one(json!({"Type": "Pass", "Result": {"a.$": "$.x"}, "End": true}))); assert!(d.iter().any(|d| d.code == DiagnosticCode::PassResultIsStatic && d.severity == Severity::Warning)) }
#[test] fn wait_seconds_ok() { valid(one(json!({"Type": "Wait", "Seconds": 3, "End": true}))) }
#[test] fn wait_no_duration() { invalid(one(json!({"Type": "Wait", "End": true})), SVF, "/States/A") }
#[test] fn wait_two_durations() { invalid(one(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true})), SVF, "/States/A") }
#[test] fn wait_negative_seconds() { invalid(one(json!({"Type": "Wait", "Seconds": -1, "End": true})), SVF, "/States/A/Seconds") }
#[test] fn wait_bad_timestamp() { invalid(one(json!({"Type": "Wait", "Timestamp": "2016-02-30T00:00:00Z", "End": true})), SVF, "/States/A/Timestamp") }
#[test] fn wait_good_timestamp() { valid(one(json!({"Type": "Wait", "Timestamp": "2016-03-14T01:59:00.123+01:00", "End": true}))) }
#[test] fn wait_bad_seconds_path() { invalid(one(json!({"Type": "Wait", "SecondsPath": "s", "End": true})), SVF, "/States/A/SecondsPath") }
#[test] fn wait_jsonata_expr() { valid(one_jsonata(json!({"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": true}))) }
#[test] fn fail_ok() { valid(one(json!({"Type": "Fail", "Error": "E", "CausePath": "States.Format('{}', $.c)"}))) }
#[test] fn fail_error_and_path() { invalid(one(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})), SVF, "/States/A") }
#[test] fn fail_error_not_string() { invalid(one(json!({"Type": "Fail", "Error": 1})), SVF, "/States/A/Error") }
#[test] fn succeed_output_in_jsonpath() { invalid(one(json!({"Type": "Succeed", "Output": {}})), SVF, "/States/A") }

// Task.
#[test] fn task_ok() { valid(task(json!({"TimeoutSeconds": 10, "HeartbeatSeconds": 5}))) }
#[test] fn task_needs_resource() { invalid(one(json!({"Type": "Task", "End": true})), SVF, "/States/A") }
#[test] fn task_bad_resource() { invalid(task(json!({"Resource": "lambda"})), "INVALID_RESOURCE", "/States/A/Resource") }
#[test] fn task_timeout_zero() { invalid(task(json!({"TimeoutSeconds": 0})), SVF, "/States/A/TimeoutSeconds") }
#[test] fn task_heartbeat_not_int() { invalid(task(json!({"HeartbeatSeconds": 1.5})), SVF, "/States/A/HeartbeatSeconds") }
#[test] fn task_heartbeat_over_timeout() { invalid(task(json!({"TimeoutSeconds": 5, "HeartbeatSeconds": 5})), SVF, "/States/A/HeartbeatSeconds") }
#[test] fn task_timeout_and_path() { invalid(task(json!({"TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"})), SVF, "/States/A") }
#[test] fn task_credentials_need_role() { invalid(task(json!({"Credentials": {}})), SVF, "/States/A/Credentials") }
#[test] fn task_credentials_ok() { valid(task(json!({"Credentials": {"RoleArn.$": "$.role"}}))) }
#[test] fn express_rejects_sync() {
    let d = validate_for(&task(json!({"Resource": "arn:aws:states:::states:startExecution.sync:2"})), MachineType::Express);
    assert_eq!(d[0].message, "Express state machine does not support '.sync' service integration");
}
#[test] fn standard_allows_sync() { valid(task(json!({"Resource": "arn:aws:states:::states:startExecution.sync"}))) }

// Paths and templates.
#[test] fn input_path_bad() { invalid(one(json!({"Type": "Pass", "InputPath": "a", "End": true})), SVF, "/States/A/InputPath") }
#[test] fn output_path_null() { valid(one(json!({"Type": "Pass", "OutputPath": null, "InputPath": null, "ResultPath": null, "End": true}))) }
#[test] fn result_path_indefinite() { invalid(one(json!({"Type": "Pass", "ResultPath": "$.a[*]", "End": true})), SVF, "/States/A/ResultPath") }
#[test] fn result_path_context() { invalid(one(json!({"Type": "Pass", "ResultPath": "$$.a", "End": true})), SVF, "/States/A/ResultPath") }
#[test] fn parameters_bad_path() { invalid(one(json!({"Type": "Pass", "Parameters": {"a": {"b.$": "nope"}}, "End": true})), SVF, "/States/A/Parameters/a") }
#[test] fn parameters_not_string() { invalid(one(json!({"Type": "Pass", "Parameters": {"b.$": 3}, "End": true})), SVF, "/States/A/Parameters") }
#[test] fn parameters_intrinsic_ok() { valid(one(json!({"Type": "Pass", "Parameters": {"b.$": "States.Format('{}', $.x)", "c": [{"d.$": "$$.Execution.Id"}]}, "End": true}))) }
#[test] fn parameters_no_dollar_warns() { let d = validate(&one(json!({"Type": "Pass", "Parameters": {"b": "$.x"}, "End": true}))); assert!(d.iter().any(|d| d.code == DiagnosticCode::NoDollar && d.location == "/States/A/Parameters/b")) }
#[test] fn result_selector_bad() { invalid(task(json!({"ResultSelector": {"x.$": "x"}})), SVF, "/States/A/ResultSelector") }
#[test] fn deep_template_no_panic() {
    let mut v = json!({"x.$": "$"});
    for _ in 0..300 { v = json!({"n": v}); }
    invalid(one(json!({"Type": "Pass", "Parameters": v, "End": true})), SVF, &format!("/States/A/Parameters{}", "/n".repeat(257)));
}

// Query language.
#[test] fn jsonata_downgrade_rejected() { invalid(one_jsonata(json!({"Type": "Pass", "QueryLanguage": "JSONPath", "End": true})), SVF, "/States/A") }
#[test] fn jsonata_state_in_jsonpath_machine() { valid(one(json!({"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "End": true}))) }
#[test] fn jsonata_rejects_input_path() { invalid(one_jsonata(json!({"Type": "Pass", "InputPath": "$", "End": true})), SVF, "/States/A") }
#[test] fn jsonata_rejects_parameters() { invalid(one_jsonata(json!({"Type": "Pass", "Parameters": {}, "End": true})), SVF, "/States/A") }
#[test] fn jsonata_rejects_seconds_path() { invalid(one_jsonata(json!({"Type": "Wait", "SecondsPath": "$.s", "End": true})), SVF, "/States/A") }
#[test] fn jsonata_rejects_items_path() { invalid(one_jsonata(json!({"Type": "Map", "ItemsPath": "$", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A") }
#[test] fn jsonpath_rejects_arguments() { invalid(task(json!({"Arguments": {}})), SVF, "/States/A") }
#[test] fn jsonpath_rejects_items() { invalid(one(json!({"Type": "Map", "Items": [], "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A") }
#[test] fn jsonata_task_ok() { valid(one_jsonata(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"x": "{% $states.input %}"}, "TimeoutSeconds": "{% 3 %}", "Output": "{% $states.result %}", "End": true}))) }
#[test] fn jsonata_broken_output() { invalid(one_jsonata(json!({"Type": "Pass", "Output": {"a": ["{% 1 + %}"]}, "End": true})), SVF, "/States/A/Output/a/0") }
#[test] fn jsonata_broken_condition() { invalid(json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Condition": "{% $x = %}", "Next": "B"}]}, "B": {"Type": "Succeed"}}}), SVF, "/States/C/Choices/0/Condition") }
#[test] fn jsonata_broken_seconds() { invalid(one_jsonata(json!({"Type": "Wait", "Seconds": "{% ( %}", "End": true})), SVF, "/States/A/Seconds") }
#[test] fn jsonata_broken_assign() { invalid(one_jsonata(json!({"Type": "Pass", "Assign": {"x": "{% [1, %}"}, "End": true})), SVF, "/States/A/Assign/x") }
#[test] fn jsonata_unclosed_expr() { invalid(one_jsonata(json!({"Type": "Pass", "Output": "{% 1 ", "End": true})), SVF, "/States/A/Output") }
#[test] fn state_query_language_unknown() { invalid(one(json!({"Type": "Pass", "QueryLanguage": "X", "End": true})), SVF, "/States/A/QueryLanguage") }

// Assign.
#[test] fn assign_ok() { valid(one(json!({"Type": "Pass", "Assign": {"x": 1, "_y.$": "$.a"}, "End": true}))) }
#[test] fn assign_not_object() { invalid(one(json!({"Type": "Pass", "Assign": [], "End": true})), SVF, "/States/A/Assign") }
#[test] fn assign_bad_name() { invalid(one(json!({"Type": "Pass", "Assign": {"1x": 1}, "End": true})), SVF, "/States/A/Assign") }
#[test] fn assign_reserved() { invalid(one(json!({"Type": "Pass", "Assign": {"states": 1}, "End": true})), SVF, "/States/A/Assign") }
#[test] fn assign_bad_path() { invalid(one(json!({"Type": "Pass", "Assign": {"x.$": "nope"}, "End": true})), SVF, "/States/A/Assign") }

// Choice.
#[test] fn choice_ok() { valid(choice(json!({"Variable": "$.x", "NumericGreaterThan": 3, "Next": "B"}))) }
#[test] fn choice_compound_ok() { valid(choice(json!({"And": [{"Variable": "$.x", "IsPresent": true}, {"Not": {"Variable": "$.y", "StringMatches": "a*"}}], "Next": "B"}))) }
#[test] fn choice_empty() { invalid(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": []}}}), SVF, "/States/C/Choices") }
#[test] fn choice_missing_choices() { invalid(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "C"}}}), SVF, "/States/C") }
#[test] fn choice_no_operator() { invalid(choice(json!({"Variable": "$.x", "Next": "B"})), SVF, "/States/C/Choices/0") }
#[test] fn choice_two_operators() { invalid(choice(json!({"Variable": "$.x", "IsNull": true, "IsString": true, "Next": "B"})), SVF, "/States/C/Choices/0") }
#[test] fn choice_needs_next() { invalid(choice(json!({"Variable": "$.x", "IsNull": true})), SVF, "/States/C/Choices/0") }
#[test] fn choice_nested_next() { invalid(choice(json!({"Not": {"Variable": "$.x", "IsNull": true, "Next": "B"}, "Next": "B"})), SVF, "/States/C/Choices/0/Not") }
#[test] fn choice_needs_variable() { invalid(choice(json!({"IsNull": true, "Next": "B"})), SVF, "/States/C/Choices/0") }
#[test] fn choice_bad_operand() { invalid(choice(json!({"Variable": "$.x", "NumericEquals": "3", "Next": "B"})), SVF, "/States/C/Choices/0/NumericEquals") }
#[test] fn choice_bad_timestamp() { invalid(choice(json!({"Variable": "$.x", "TimestampEquals": "yesterday", "Next": "B"})), SVF, "/States/C/Choices/0/TimestampEquals") }
#[test] fn choice_bad_variable() { invalid(choice(json!({"Variable": "x", "IsNull": true, "Next": "B"})), SVF, "/States/C/Choices/0/Variable") }
#[test] fn choice_empty_and() { invalid(choice(json!({"And": [], "Next": "B"})), SVF, "/States/C/Choices/0/And") }
#[test] fn choice_unknown_operator() { invalid(choice(json!({"Variable": "$.x", "Equals": 1, "Next": "B"})), SVF, "/States/C/Choices/0") }
#[test] fn choice_missing_target() { invalid(choice(json!({"Variable": "$.x", "IsNull": true, "Next": "Z"})), MTT, "/States/C/Choices/0/Next") }
#[test] fn choice_missing_default() { invalid(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}], "Default": "Z"}, "B": {"Type": "Succeed"}}}), MTT, "/States/C/Default") }
#[test] fn choice_jsonata_condition() { valid(json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "B"}]}, "B": {"Type": "Succeed"}}})) }
#[test] fn choice_jsonata_rejects_variable() { invalid(json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}]}, "B": {"Type": "Succeed"}}}), SVF, "/States/C/Choices/0") }
#[test] fn choice_jsonpath_rejects_condition() { invalid(choice(json!({"Condition": "{% true %}", "Next": "B"})), SVF, "/States/C/Choices/0") }

// Retry / Catch.
#[test] fn retry_ok() { valid(task(json!({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 1, "MaxAttempts": 0, "BackoffRate": 1.5, "MaxDelaySeconds": 3, "JitterStrategy": "FULL"}, {"ErrorEquals": ["States.ALL"]}]}))) }
#[test] fn retry_empty_error_equals() { invalid(task(json!({"Retry": [{"ErrorEquals": []}]})), SVF, "/States/A/Retry/0/ErrorEquals") }
#[test] fn retry_missing_error_equals() { invalid(task(json!({"Retry": [{}]})), SVF, "/States/A/Retry/0") }
#[test] fn retry_all_not_alone() { invalid(task(json!({"Retry": [{"ErrorEquals": ["States.ALL", "X"]}]})), SVF, "/States/A/Retry/0/ErrorEquals") }
#[test] fn retry_all_not_last() { invalid(task(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]})), SVF, "/States/A/Retry/0") }
#[test] fn retry_negative_attempts() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}]})), SVF, "/States/A/Retry/0/MaxAttempts") }
#[test] fn retry_backoff_below_one() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]})), SVF, "/States/A/Retry/0/BackoffRate") }
#[test] fn retry_interval_zero() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]})), SVF, "/States/A/Retry/0/IntervalSeconds") }
#[test] fn retry_max_delay_zero() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]})), SVF, "/States/A/Retry/0/MaxDelaySeconds") }
#[test] fn retry_bad_jitter() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]})), SVF, "/States/A/Retry/0/JitterStrategy") }
#[test] fn retry_unknown_field() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "Foo": 1}]})), SVF, "/States/A/Retry/0") }
#[test] fn retry_on_pass() { invalid(one(json!({"Type": "Pass", "Retry": [], "End": true})), SVF, "/States/A") }
#[test] fn catch_needs_next() { invalid(task(json!({"Catch": [{"ErrorEquals": ["X"]}]})), SVF, "/States/A/Catch/0") }
#[test] fn catch_missing_target() { invalid(task(json!({"Catch": [{"ErrorEquals": ["X"], "Next": "Z"}]})), MTT, "/States/A/Catch/0/Next") }
#[test] fn catch_all_not_last() { invalid(task(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]})), SVF, "/States/A/Catch/0") }
#[test] fn catch_bad_result_path() { invalid(task(json!({"Catch": [{"ErrorEquals": ["X"], "Next": "A", "ResultPath": "x"}]})), SVF, "/States/A/Catch/0/ResultPath") }
#[test] fn catch_makes_reachable() { valid(json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]}, "H": {"Type": "Succeed"}}})) }

// Parallel / Map.
#[test] fn parallel_ok() { valid(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]}}})) }
#[test] fn parallel_empty_branches() { invalid(one(json!({"Type": "Parallel", "Branches": [], "End": true})), SVF, "/States/A/Branches") }
#[test] fn parallel_missing_branches() { invalid(one(json!({"Type": "Parallel", "End": true})), SVF, "/States/A") }
#[test] fn parallel_branch_missing_start() { invalid(one(json!({"Type": "Parallel", "Branches": [{"States": {"B": {"Type": "Succeed"}}}], "End": true})), SVF, "/States/A/Branches/0") }
#[test] fn parallel_branch_unknown_field() { invalid(one(json!({"Type": "Parallel", "Branches": [{"StartAt": "B", "QueryLanguage": "JSONata", "States": {"B": {"Type": "Succeed"}}}], "End": true})), SVF, "/States/A/Branches/0") }
#[test] fn map_ok() { valid(one(json!({"Type": "Map", "ItemsPath": "$.xs", "MaxConcurrency": 2, "ItemSelector": {"v.$": "$$.Map.Item.Value"}, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true}))) }
#[test] fn map_legacy_iterator_ok() { valid(one(json!({"Type": "Map", "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true}))) }
#[test] fn map_needs_processor() { invalid(one(json!({"Type": "Map", "End": true})), SVF, "/States/A") }
#[test] fn map_bad_mode() { invalid(one(json!({"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "FAST"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A/ItemProcessor/ProcessorConfig/Mode") }
#[test] fn map_processor_unreachable() { invalid(one(json!({"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}, "J": {"Type": "Succeed"}}}, "End": true})), MTT, "/States/A/ItemProcessor/States/J") }
#[test] fn map_negative_concurrency() { invalid(one(json!({"Type": "Map", "MaxConcurrency": -1, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A/MaxConcurrency") }
#[test] fn map_bad_percentage() { invalid(one(json!({"Type": "Map", "ToleratedFailurePercentage": 101, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A/ToleratedFailurePercentage") }
#[test] fn map_bad_items_path() { invalid(one(json!({"Type": "Map", "ItemsPath": "xs", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A/ItemsPath") }
#[test] fn nesting_bounded() {
    let mut m = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}});
    for i in 0..100 {
        m = json!({"StartAt": format!("P{i}"), "States": {format!("P{i}"): {"Type": "Parallel", "End": true, "Branches": [m]}}});
    }
    let d = validate(&m);
    assert!(d.iter().any(|d| d.message.contains("maximum depth")), "{:?}", d.first());
}

// Never panics.
#[test] fn odd_inputs_do_not_panic() {
    for v in [json!(null), json!("x"), json!({"StartAt": null, "States": null}), json!({"StartAt": "A", "States": {"A": null}}),
              json!({"StartAt": "A", "States": {"A": {"Type": "Map", "ItemProcessor": 1, "Retry": {}, "Catch": 2, "End": true}}}),
              json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [1, {"Not": 2}, {"And": 3}]}}}),
              json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": [null, {"StartAt": 1, "States": {}}], "End": true}}})] {
        let _ = validate(&v);
    }
    for t in ["", "[", "\"x\"", "{\"a\":{\"a\":1,\"a\":2}}", "{\"States\":{\"\\u0041\":1,\"A\":2}}"] {
        let _ = validate_text(t);
    }
}

// ---- Hints: the offending value, where AWS's message does not name it. ----

fn hints(definition: serde_json::Value) -> Vec<(String, Option<String>)> {
    validate(&definition).into_iter().map(|d| (d.message, d.hint)).collect()
}

#[test]
fn hints_name_what_aws_messages_do_not() {
    let found = hints(json!({"StartAt": "A", "States": {
        "A": {"Type": "Teleport", "End": true}}}));
    assert_eq!(found[0].1.as_deref(), Some("'Teleport' is not a state type"));
    // The message is AWS's, untouched.
    assert_eq!(found[0].0, "The value for the field 'Type' must be one of: [Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map]");
    let found = hints(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"x.$": "States.Nope()"}, "End": true}}}));
    assert_eq!(found[0].1.as_deref(), Some("'States.Nope' is not an intrinsic function"));
    let found = hints(json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 0, "End": true}}}));
    assert_eq!(found[0].1.as_deref(), Some("0 is not a positive integer"));
    let found = hints(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "ResultPath": "$.a", "OutputPath": 5, "End": true}}}));
    assert_eq!(found[0].1.as_deref(), Some("the value is not a string"));
}

#[test]
fn hints_are_not_in_the_display_form() {
    let diagnostics = validate(&json!({"StartAt": "A", "States": {
        "A": {"Type": "Teleport", "End": true}}}));
    assert!(diagnostics[0].hint.is_some());
    assert!(!diagnostics[0].to_string().contains("Teleport"));
}

#[test]
fn closest_suggests_only_near_names() {
    use super::closest;
    assert_eq!(closest("Pas", ["Pass", "Task"]), Some("Pass"));
    assert_eq!(closest("pass", ["Pass", "Task"]), Some("Pass"));
    assert_eq!(closest("Colour", ["Comment", "Type"]), None);
    // A short word is not "near" everything of its length.
    assert_eq!(closest("Ab", ["Cd"]), None);
    assert_eq!(closest("Pass", ["Pass"]), None);
}

#[test]
fn other_diagnostics_quote_the_scalar_they_point_at() {
    let found = validate(&json!({"QueryLanguage": "JsonPath", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "ResultPath": "$x", "Comment": 5, "End": true}}}));
    let hint = |field: &str| {
        found.iter().find(|d| d.location.ends_with(field)).and_then(|d| d.hint.clone())
    };
    assert_eq!(hint("/QueryLanguage").as_deref(), Some("the value here is 'JsonPath'"));
    assert_eq!(hint("/ResultPath").as_deref(), Some("the value here is '$x'"));
    assert_eq!(hint("/Comment").as_deref(), Some("the value here is 5"));
    // A value that is part of a word of the message is not named by it.
    let found = validate(&json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLIN"}, "StartAt": "P",
                          "States": {"P": {"Type": "Pass", "End": true}}}}}}));
    assert_eq!(found[0].hint.as_deref(), Some("the value here is 'INLIN'"), "{found:?}");
    // An invalid JSONata expression's message quotes its text already.
    let found = validate(&json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% $states.input. %}", "End": true}}}));
    assert!(found.iter().all(|d| d.hint.is_none()), "{found:?}");
    // A message that names the value already gets no hint.
    let found = validate(&json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:lambda:nowhere", "End": true}}}));
    assert!(found.iter().all(|d| d.hint.is_none()), "{found:?}");
}

//! Choice: every comparison operator and its `…Path` form, the `Is…` tests, And/Or/Not,
//! Default, no match, a missing Variable. AWS: "Choice workflow state".

use crate::util::*;
use serde_json::{json, Value};

fn machine(rule: Value, default: bool) -> Value {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    let mut choice = json!({"Type": "Choice", "Choices": [rule]});
    if default {
        choice["Default"] = json!("No");
    }
    json!({"StartAt": "C", "States": {
        "C": choice,
        "Yes": {"Type": "Pass", "Result": true, "End": true},
        "No": {"Type": "Pass", "Result": false, "End": true}
    }})
}

fn yes(rule: Value, input: Value) {
    let ran = run(machine(rule.clone(), true), input.clone());
    assert_eq!(ran.output(), json!(true), "{rule} on {input}");
}

fn no(rule: Value, input: Value) {
    let ran = run(machine(rule.clone(), true), input.clone());
    assert_eq!(ran.output(), json!(false), "{rule} on {input}");
}

/// `{"Variable": "$.v", op: operand}` against `{"v": v}`.
fn op(name: &str, v: Value, operand: Value, expected: bool) {
    let rule = json!({"Variable": "$.v", name: operand});
    let input = json!({"v": v});
    if expected {
        yes(rule, input)
    } else {
        no(rule, input)
    }
}

/// The `…Path` form: `{"Variable": "$.v", "{name}Path": "$.o"}` against `{"v": v, "o": operand}`.
fn op_path(name: &str, v: Value, operand: Value, expected: bool) {
    let rule = json!({"Variable": "$.v", format!("{name}Path"): "$.o"});
    let input = json!({"v": v, "o": operand});
    if expected {
        yes(rule, input)
    } else {
        no(rule, input)
    }
}

fn both(name: &str, v: Value, operand: Value, expected: bool) {
    op(name, v.clone(), operand.clone(), expected);
    op_path(name, v, operand, expected);
}

#[test]
fn string_equals() {
    both("StringEquals", json!("a"), json!("a"), true);
    both("StringEquals", json!("a"), json!("b"), false);
    both("StringEquals", json!(1), json!("1"), false);
}

#[test]
fn string_ordering() {
    both("StringLessThan", json!("a"), json!("b"), true);
    both("StringLessThan", json!("b"), json!("b"), false);
    both("StringGreaterThan", json!("b"), json!("a"), true);
    both("StringGreaterThan", json!("a"), json!("a"), false);
    both("StringLessThanEquals", json!("a"), json!("a"), true);
    both("StringLessThanEquals", json!("b"), json!("a"), false);
    both("StringGreaterThanEquals", json!("a"), json!("a"), true);
    both("StringGreaterThanEquals", json!("a"), json!("b"), false);
    // Java compareTo: UTF-16 code units, upper case before lower case.
    both("StringLessThan", json!("Z"), json!("a"), true);
}

#[test]
fn string_matches_wildcards() {
    op(
        "StringMatches",
        json!("log-2024.txt"),
        json!("log-*.txt"),
        true,
    );
    op(
        "StringMatches",
        json!("log-2024.csv"),
        json!("log-*.txt"),
        false,
    );
    op("StringMatches", json!("anything"), json!("*"), true);
    op("StringMatches", json!(""), json!("*"), true);
    op("StringMatches", json!("abc"), json!("a*c*"), true);
    op("StringMatches", json!("abc"), json!("abc"), true);
    op("StringMatches", json!("abcd"), json!("abc"), false);
}

#[test]
fn string_matches_escapes() {
    // `\*` is a literal star; `\\` a literal backslash.
    op("StringMatches", json!("a*b"), json!("a\\*b"), true);
    op("StringMatches", json!("axb"), json!("a\\*b"), false);
    op("StringMatches", json!("a\\b"), json!("a\\\\b"), true);
    op("StringMatches", json!("a\\xyz"), json!("a\\\\*"), true);
}

#[test]
fn string_matches_non_string_is_false() {
    op("StringMatches", json!(5), json!("*"), false);
}

#[test]
fn numeric_equals() {
    both("NumericEquals", json!(5), json!(5), true);
    both("NumericEquals", json!(5), json!(5.0), true);
    both("NumericEquals", json!(5), json!(6), false);
    both("NumericEquals", json!("5"), json!(5), false);
}

#[test]
fn numeric_ordering() {
    both("NumericLessThan", json!(1), json!(2), true);
    both("NumericLessThan", json!(2), json!(2), false);
    both("NumericGreaterThan", json!(2.5), json!(2), true);
    both("NumericGreaterThan", json!(2), json!(2), false);
    both("NumericLessThanEquals", json!(2), json!(2), true);
    both("NumericLessThanEquals", json!(3), json!(2), false);
    both("NumericGreaterThanEquals", json!(2), json!(2), true);
    both("NumericGreaterThanEquals", json!(-1), json!(2), false);
}

#[test]
fn boolean_equals() {
    both("BooleanEquals", json!(true), json!(true), true);
    both("BooleanEquals", json!(false), json!(true), false);
    both("BooleanEquals", json!("true"), json!(true), false);
}

#[test]
fn timestamp_comparisons() {
    let t0 = json!("2024-01-01T00:00:00Z");
    let t1 = json!("2024-01-01T00:00:01Z");
    both("TimestampEquals", t0.clone(), t0.clone(), true);
    both(
        "TimestampEquals",
        t0.clone(),
        json!("2024-01-01T01:00:00+01:00"),
        true,
    );
    both("TimestampEquals", t0.clone(), t1.clone(), false);
    both("TimestampLessThan", t0.clone(), t1.clone(), true);
    both("TimestampLessThan", t1.clone(), t0.clone(), false);
    both("TimestampGreaterThan", t1.clone(), t0.clone(), true);
    both("TimestampGreaterThan", t0.clone(), t0.clone(), false);
    both("TimestampLessThanEquals", t0.clone(), t0.clone(), true);
    both("TimestampLessThanEquals", t1.clone(), t0.clone(), false);
    both("TimestampGreaterThanEquals", t0.clone(), t0.clone(), true);
    both("TimestampGreaterThanEquals", t0.clone(), t1.clone(), false);
    // A variable that is not a timestamp compares false.
    op("TimestampEquals", json!("yesterday"), t0, false);
}

#[test]
fn timestamps_are_strings_too() {
    op(
        "StringEquals",
        json!("2024-01-01T00:00:00Z"),
        json!("2024-01-01T00:00:00Z"),
        true,
    );
}

#[test]
fn is_tests() {
    op("IsNull", json!(null), json!(true), true);
    op("IsNull", json!(0), json!(true), false);
    op("IsNull", json!(0), json!(false), true);
    op("IsPresent", json!(null), json!(true), true);
    op("IsNumeric", json!(1.5), json!(true), true);
    op("IsNumeric", json!("1"), json!(true), false);
    op("IsString", json!(""), json!(true), true);
    op("IsString", json!(1), json!(false), true);
    op("IsBoolean", json!(false), json!(true), true);
    op("IsBoolean", json!(0), json!(true), false);
    op(
        "IsTimestamp",
        json!("2016-03-14T01:59:00Z"),
        json!(true),
        true,
    );
    op(
        "IsTimestamp",
        json!("2016-03-14 01:59:00Z"),
        json!(true),
        false,
    );
    op("IsTimestamp", json!(5), json!(false), true);
}

#[test]
fn is_present_on_missing_field() {
    yes(
        json!({"Variable": "$.missing", "IsPresent": false}),
        json!({}),
    );
    no(
        json!({"Variable": "$.missing", "IsPresent": true}),
        json!({}),
    );
}

#[test]
fn is_present_false_on_missing_variable() {
    // `$v` is assigned only on one path; on the other IsPresent reports it absent.
    let def = json!({"StartAt": "F", "States": {
        "F": {"Type": "Choice", "Choices": [
            {"Variable": "$.set", "BooleanEquals": true, "Next": "Set"}
        ], "Default": "C"},
        "Set": {"Type": "Pass", "Assign": {"v": 1}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$v", "IsPresent": false, "Next": "Absent"}
        ], "Default": "Present"},
        "Absent": {"Type": "Pass", "Result": "absent", "End": true},
        "Present": {"Type": "Pass", "Result": "present", "End": true}
    }});
    assert_eq!(
        run(def.clone(), json!({"set": false})).output(),
        json!("absent")
    );
    assert_eq!(run(def, json!({"set": true})).output(), json!("present"));
}

#[test]
fn and_or_not_nest() {
    let rule = json!({"And": [
        {"Variable": "$.v", "NumericGreaterThanEquals": 20},
        {"Or": [
            {"Variable": "$.v", "NumericLessThan": 30},
            {"Not": {"Variable": "$.s", "StringEquals": "x"}}
        ]}
    ]});
    yes(rule.clone(), json!({"v": 25, "s": "x"}));
    yes(rule.clone(), json!({"v": 35, "s": "y"}));
    no(rule.clone(), json!({"v": 35, "s": "x"}));
    no(rule, json!({"v": 10, "s": "y"}));
    yes(
        json!({"Not": {"Variable": "$.v", "BooleanEquals": true}}),
        json!({"v": false}),
    );
}

#[test]
fn first_matching_rule_wins() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.v", "NumericGreaterThan": 1, "Next": "A"},
            {"Variable": "$.v", "NumericGreaterThan": 0, "Next": "B"}
        ], "Default": "B"},
        "A": {"Type": "Pass", "Result": "A", "End": true},
        "B": {"Type": "Pass", "Result": "B", "End": true}
    }});
    assert_eq!(run(def.clone(), json!({"v": 5})).output(), json!("A"));
    assert_eq!(run(def, json!({"v": 1})).output(), json!("B"));
}

#[test]
fn default_taken_when_nothing_matches() {
    no(
        json!({"Variable": "$.v", "StringEquals": "a"}),
        json!({"v": "b"}),
    );
}

#[test]
fn no_match_without_default_fails() {
    let mut def = machine(json!({"Variable": "$.v", "StringEquals": "a"}), false);
    def["States"].as_object_mut().unwrap().remove("No");
    run_err(def, json!({"v": "b"}), "States.NoChoiceMatched");
}

#[test]
fn missing_variable_is_runtime_error() {
    // AWS (Choice workflow state): "If the state input doesn't contain the `$.type` field,
    // the execution fails and an error is displayed in the execution history."
    run_cause(
        machine(json!({"Variable": "$.missing", "StringEquals": "a"}), true),
        json!({"v": 1}),
        "States.Runtime",
        "Invalid path '$.missing': The choice state's condition path references an invalid value.",
    );
}

#[test]
fn missing_comparison_path_is_runtime_error() {
    run_cause(
        machine(
            json!({"Variable": "$.v", "NumericEqualsPath": "$.missing"}),
            true,
        ),
        json!({"v": 1}),
        "States.Runtime",
        "Invalid path '$.missing': The choice state's condition path references an invalid value.",
    );
}

#[test]
fn output_is_input_through_input_and_output_path() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "InputPath": "$.in", "OutputPath": "$.keep",
              "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "End"}]},
        "End": {"Type": "Succeed"}
    }});
    run_ok(def, json!({"in": {"v": 1, "keep": "k"}}), json!("k"));
}

#[test]
fn choice_reads_variables_and_context() {
    let def = json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"limit": 3}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.v", "NumericGreaterThanPath": "$limit", "Next": "Big"},
            {"Variable": "$$.State.Name", "StringEquals": "C", "Next": "Small"}
        ]},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "Small": {"Type": "Pass", "Result": "small", "End": true}
    }});
    assert_eq!(run(def.clone(), json!({"v": 5})).output(), json!("big"));
    assert_eq!(run(def, json!({"v": 1})).output(), json!("small"));
}

//! Wait, field by field. AWS: "Wait workflow state"
//! (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html): `Seconds` is "an
//! integer value from 0 to 99999999"; in JSONata "a JSONata expression which must evaluate
//! to an integer in the stated range"; `SecondsPath` / `TimestampPath` are reference paths
//! into the state's input (after InputPath), which also accept variables and `$$`
//! ("Passing data between states with variables", "Accessing execution data from the
//! Context object"). A negative `SecondsPath` value fails the execution with AWS's
//! `States.Runtime` message (as LocalStack's AWS-recorded tests word it).

use crate::util::*;
use crate::wait::{at, entered_after as entered};
use serde_json::{json, Value};

fn jsonata_wait(field: &str, expr: &str) -> Value {
    json!({"Type": "Wait", "QueryLanguage": "JSONata", field: expr})
}

#[test]
fn seconds_path_reads_the_input_after_input_path() {
    let ran = entered(
        json!({"Type": "Wait", "InputPath": "$.inner", "SecondsPath": "$.s"}),
        json!({"s": 99, "inner": {"s": 3}}),
    );
    assert_eq!(ran.output(), at("00:03.000"));
}

#[test]
fn seconds_path_reads_a_variable() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"pause": 4}})),
        ("W", json!({"Type": "Wait", "SecondsPath": "$pause"})),
        (
            "After",
            json!({"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}}),
        ),
    ]);
    assert_eq!(run(def, json!({})).output(), at("00:04.000"));
}

#[test]
fn seconds_path_reads_the_context_object() {
    let ran = entered(
        json!({"Type": "Wait", "InputPath": "$.other", "SecondsPath": "$$.Execution.Input.s"}),
        json!({"s": 6, "other": {}}),
    );
    assert_eq!(ran.output(), at("00:06.000"));
}

#[test]
fn seconds_path_zero_does_not_wait() {
    let ran = entered(
        json!({"Type": "Wait", "SecondsPath": "$.s"}),
        json!({"s": 0}),
    );
    assert_eq!(ran.output(), at("00:00.000"));
}

#[test]
fn seconds_path_negative_fails_the_execution() {
    run_cause(
        single(json!({"Type": "Wait", "SecondsPath": "$.s"})),
        json!({"s": -1}),
        "States.Runtime",
        "The SecondsPath parameter references a negative value: $.s == -1",
    );
}

#[test]
fn seconds_path_negative_is_not_caught_by_states_all() {
    // States.Runtime is never caught (Error handling in Step Functions).
    let def = chain(&[
        (
            "W",
            json!({"Type": "Wait", "SecondsPath": "$.s", "Next": "Done"}),
        ),
        ("Done", json!({"Type": "Succeed"})),
    ]);
    let ran = run(def, json!({"s": -5}));
    assert_eq!(ran.error(), "States.Runtime");
}

#[test]
fn seconds_path_string_or_boolean_is_not_a_long() {
    run_cause(
        single(json!({"Type": "Wait", "SecondsPath": "$.s"})),
        json!({"s": "5"}),
        "States.Runtime",
        "The SecondsPath parameter cannot be parsed as a long value: $.s == 5",
    );
    run_cause(
        single(json!({"Type": "Wait", "SecondsPath": "$.s"})),
        json!({"s": true}),
        "States.Runtime",
        "cannot be parsed as a long value: $.s == true",
    );
}

#[test]
fn timestamp_path_reads_variables_and_the_context_object() {
    let def = chain(&[
        (
            "Set",
            json!({"Type": "Pass", "Assign": {"until": "2026-01-01T00:00:09Z"}}),
        ),
        ("W", json!({"Type": "Wait", "TimestampPath": "$until"})),
        (
            "After",
            json!({"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}}),
        ),
    ]);
    assert_eq!(run(def, json!({})).output(), at("00:09.000"));
    let ran = entered(
        json!({"Type": "Wait", "TimestampPath": "$$.Execution.Input.u", "InputPath": "$.x"}),
        json!({"u": "2026-01-01T00:00:02Z", "x": {}}),
    );
    assert_eq!(ran.output(), at("00:02.000"));
}

#[test]
fn timestamp_path_to_a_number_is_not_a_timestamp() {
    run_cause(
        single(json!({"Type": "Wait", "TimestampPath": "$.t"})),
        json!({"t": 12}),
        "States.Runtime",
        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.t == 12",
    );
}

#[test]
fn literal_seconds_outside_zero_to_99999999_is_refused() {
    rejected(single(json!({"Type": "Wait", "Seconds": -1})));
    rejected(single(json!({"Type": "Wait", "Seconds": 100_000_000})));
    rejected(single(json!({"Type": "Wait", "Seconds": 1.5})));
    // The bounds themselves are accepted.
    asl::Machine::from_definition(
        &single(json!({"Type": "Wait", "Seconds": 99_999_999})),
        asl::validate::MachineType::Standard,
    )
    .expect("99999999 is in range");
}

#[test]
fn jsonata_seconds_expression_waits() {
    let ran = entered(
        jsonata_wait("Seconds", "{% $states.input.s * 2 %}"),
        json!({"s": 4}),
    );
    assert_eq!(ran.output(), at("00:08.000"));
}

#[test]
fn jsonata_seconds_must_be_an_integer() {
    run_cause(
        single(jsonata_wait("Seconds", "{% $states.input.s %}")),
        json!({"s": "ten"}),
        "States.QueryEvaluationError",
        "Expected 'integer'",
    );
    run_err(
        single(jsonata_wait("Seconds", "{% $states.input.s %}")),
        json!({"s": 2.5}),
        "States.QueryEvaluationError",
    );
}

#[test]
fn jsonata_seconds_must_be_in_range() {
    for s in [json!(-1), json!(100_000_000)] {
        let ran = run(
            single(jsonata_wait("Seconds", "{% $states.input.s %}")),
            json!({"s": s}),
        );
        assert_eq!(ran.error(), "States.QueryEvaluationError", "{s}");
        assert!(
            ran.cause().contains("from 0 to 99999999"),
            "{}",
            ran.cause()
        );
        assert!(
            ran.types().contains(&"EvaluationFailed"),
            "{:?}",
            ran.types()
        );
    }
}

#[test]
fn jsonata_seconds_zero_is_in_range() {
    let ran = entered(jsonata_wait("Seconds", "{% 0 %}"), json!({}));
    assert_eq!(ran.output(), at("00:00.000"));
}

#[test]
fn jsonata_timestamp_must_be_a_timestamp_string() {
    run_cause(
        single(jsonata_wait("Timestamp", "{% $states.input.t %}")),
        json!({"t": 5}),
        "States.QueryEvaluationError",
        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: 5",
    );
}

#[test]
fn jsonata_timestamp_reads_variables() {
    let def = chain(&[
        (
            "Set",
            json!({"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"u": "2026-01-01T00:00:07Z"}}),
        ),
        ("W", jsonata_wait("Timestamp", "{% $u %}")),
        (
            "After",
            json!({"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}}),
        ),
    ]);
    assert_eq!(run(def, json!({})).output(), at("00:07.000"));
}

#[test]
fn wait_assign_and_output_path_apply_to_the_effective_input() {
    // A Wait has no result: Assign reads the input after InputPath, OutputPath selects from it.
    let def = chain(&[
        (
            "W",
            json!({"Type": "Wait", "Seconds": 1, "InputPath": "$.a", "Assign": {"seen.$": "$.b"}, "OutputPath": "$.c"}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"seen.$": "$seen", "out.$": "$"}}),
        ),
    ]);
    run_ok(
        def,
        json!({"a": {"b": 1, "c": 2}}),
        json!({"seen": 1, "out": 2}),
    );
}

#[test]
fn jsonata_wait_output_and_assign_see_the_input() {
    let def = chain(&[
        (
            "W",
            json!({"Type": "Wait", "QueryLanguage": "JSONata", "Seconds": 1,
                   "Assign": {"v": "{% $states.input.x %}"},
                   "Output": {"o": "{% $states.input.x + 1 %}"}}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"v.$": "$v", "o.$": "$.o"}}),
        ),
    ]);
    run_ok(def, json!({"x": 1}), json!({"v": 1, "o": 2}));
}

#[test]
fn timestamps_need_an_upper_case_t_and_z() {
    // "an uppercase T must separate the date and time portions, and an uppercase Z must
    // denote that a numeric time zone offset is not present".
    for bad in ["2026-01-01t00:00:05Z", "2026-01-01T00:00:05z"] {
        rejected(single(json!({"Type": "Wait", "Timestamp": bad})));
        run_cause(
            single(json!({"Type": "Wait", "TimestampPath": "$.t"})),
            json!({"t": bad}),
            "States.Runtime",
            &format!("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.t == {bad}"),
        );
    }
}

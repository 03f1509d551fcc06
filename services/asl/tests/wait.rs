//! Wait: Seconds, SecondsPath, Timestamp, TimestampPath on the virtual clock, and the
//! errors bad paths raise. AWS: "Wait workflow state".

use crate::util::*;
use serde_json::{json, Value};

/// Runs `wait` as a Wait state, then a Pass that reports when it was entered (the documented
/// Wait tests share it).
pub(crate) fn entered_after(wait: Value, input: Value) -> Ran {
    let mut wait = wait;
    wait["Type"] = json!("Wait");
    run(
        chain(&[
            ("W", wait),
            (
                "After",
                json!({"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}}),
            ),
        ]),
        input,
    )
}

pub(crate) fn at(seconds: &str) -> Value {
    json!({"t": format!("2026-01-01T00:{seconds}Z")})
}

#[test]
fn seconds() {
    assert_eq!(
        entered_after(json!({"Seconds": 10}), json!({})).output(),
        at("00:10.000")
    );
}

#[test]
fn seconds_zero() {
    assert_eq!(
        entered_after(json!({"Seconds": 0}), json!({})).output(),
        at("00:00.000")
    );
}

#[test]
fn seconds_path() {
    let ran = entered_after(json!({"SecondsPath": "$.s"}), json!({"s": 7}));
    assert_eq!(ran.output(), at("00:07.000"));
}

#[test]
fn timestamp() {
    let ran = entered_after(json!({"Timestamp": "2026-01-01T00:01:00Z"}), json!({}));
    assert_eq!(ran.output(), at("01:00.000"));
}

#[test]
fn timestamp_with_offset() {
    let ran = entered_after(json!({"Timestamp": "2026-01-01T01:00:30+01:00"}), json!({}));
    assert_eq!(ran.output(), at("00:30.000"));
}

#[test]
fn timestamp_in_the_past_does_not_wait() {
    let ran = entered_after(json!({"Timestamp": "2020-01-01T00:00:00Z"}), json!({}));
    assert_eq!(ran.output(), at("00:00.000"));
}

#[test]
fn timestamp_truncates_milliseconds() {
    // AWS (Wait workflow state): "if you specify the wait time as a timestamp, Step
    // Functions considers the time value up to seconds and truncates milliseconds."
    let ran = entered_after(json!({"Timestamp": "2026-01-01T00:00:10.900Z"}), json!({}));
    assert_eq!(ran.output(), at("00:10.000"));
}

#[test]
fn timestamp_path() {
    let ran = entered_after(
        json!({"TimestampPath": "$.until"}),
        json!({"until": "2026-01-01T00:02:00Z"}),
    );
    assert_eq!(ran.output(), at("02:00.000"));
}

#[test]
fn timestamp_path_truncates_milliseconds() {
    let ran = entered_after(
        json!({"TimestampPath": "$.until"}),
        json!({"until": "2026-01-01T00:00:05.500Z"}),
    );
    assert_eq!(ran.output(), at("00:05.000"));
}

#[test]
fn wait_passes_input_through_paths() {
    let ran = run(
        single(json!({"Type": "Wait", "Seconds": 1, "InputPath": "$.a", "OutputPath": "$.b"})),
        json!({"a": {"b": 2}}),
    );
    assert_eq!(ran.output(), json!(2));
}

#[test]
fn history_timestamps_show_the_wait() {
    let ran = run(single(json!({"Type": "Wait", "Seconds": 42})), json!({}));
    let entered = ran
        .events
        .iter()
        .find(|e| e.event_type.as_str() == "WaitStateEntered")
        .unwrap();
    let exited = ran
        .events
        .iter()
        .find(|e| e.event_type.as_str() == "WaitStateExited")
        .unwrap();
    assert_eq!(
        exited.event_timestamp_ms - entered.event_timestamp_ms,
        42_000
    );
}

#[test]
fn seconds_path_missing() {
    run_cause(
        single(json!({"Type": "Wait", "SecondsPath": "$.s"})),
        json!({}),
        "States.Runtime",
        "The SecondsPath parameter does not reference an input value: $.s",
    );
}

#[test]
fn seconds_path_not_an_integer() {
    run_cause(
        single(json!({"Type": "Wait", "SecondsPath": "$.s"})),
        json!({"s": 1.5}),
        "States.Runtime",
        "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5",
    );
    run_err(
        single(json!({"Type": "Wait", "SecondsPath": "$.s"})),
        json!({"s": "ten"}),
        "States.Runtime",
    );
}

#[test]
fn timestamp_path_missing() {
    run_cause(
        single(json!({"Type": "Wait", "TimestampPath": "$.t"})),
        json!({}),
        "States.Runtime",
        "The TimestampPath parameter does not reference an input value: $.t",
    );
}

#[test]
fn timestamp_path_not_a_timestamp() {
    run_cause(
        single(json!({"Type": "Wait", "TimestampPath": "$.t"})),
        json!({"t": "2016-12-05 21:29:29Z"}),
        "States.Runtime",
        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.t == 2016-12-05 21:29:29Z",
    );
}

#[test]
fn runtime_cause_names_state_and_event() {
    run_cause(
        single(json!({"Type": "Wait", "SecondsPath": "$.s"})),
        json!({}),
        "States.Runtime",
        "An error occurred while executing the state 'S' (entered at the event id #2).",
    );
}

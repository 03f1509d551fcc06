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

// A Wait of the top-level branch parks the execution: the run's leg ends with the state, its
// input and variables and the event counters, and a new leg goes on from there after the
// wait. These check that nothing is lost or changed on the way.

#[test]
fn a_parked_wait_resumes_with_its_variables_the_execution_input_and_its_context() {
    let ran = run(
        chain(&[
            ("Before", json!({"Type": "Pass", "Assign": {"x": 1}})),
            (
                "W",
                json!({"Type": "Wait", "Seconds": 5, "InputPath": "$.a",
                       "Assign": {"y.$": "$$.Execution.Input.b", "entered.$": "$$.State.EnteredTime"},
                       "OutputPath": "$.c"}),
            ),
            (
                "After",
                json!({"Type": "Pass", "Parameters": {
                    "x.$": "$x", "y.$": "$y", "entered.$": "$entered", "in.$": "$",
                    "execution.$": "$$.Execution.Input", "t.$": "$$.State.EnteredTime"}}),
            ),
        ]),
        json!({"a": {"c": "kept"}, "b": 2}),
    );
    assert_eq!(
        ran.output(),
        json!({"x": 1, "y": 2, "entered": "2026-01-01T00:00:00.000Z", "in": "kept",
               "execution": {"a": {"c": "kept"}, "b": 2}, "t": "2026-01-01T00:00:05.000Z"})
    );
}

#[test]
fn a_parked_jsonata_wait_evaluates_its_output_and_assign_after_the_wait() {
    let ran = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 3,
                  "Assign": {"entered": "{% $states.context.State.EnteredTime %}"},
                  "Output": "{% {'doubled': $states.input.n * 2} %}", "Next": "After"},
            "After": {"Type": "Pass",
                      "Output": "{% $merge([$states.input, {'entered': $entered}]) %}",
                      "End": true}
        }}),
        json!({"n": 21}),
    );
    assert_eq!(
        ran.output(),
        json!({"doubled": 42, "entered": "2026-01-01T00:00:00.000Z"})
    );
    assert_eq!(ran.elapsed_s(), 3.0);
}

#[test]
fn a_parked_wait_s_history_is_the_unparked_one() {
    let ran = run(
        chain(&[
            ("P", json!({"Type": "Pass"})),
            ("W", json!({"Type": "Wait", "Seconds": 7})),
            ("Q", json!({"Type": "Pass"})),
        ]),
        json!({"k": 1}),
    );
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    // Ids count on through the park; each event follows the one before it (the first
    // state's follows none, as AWS records it).
    for (i, event) in ran.events.iter().enumerate() {
        assert_eq!(event.id, i as u64 + 1);
        let previous = if i == 1 { 0 } else { i as u64 };
        assert_eq!(event.previous_event_id, previous, "{:?}", event.event_type);
    }
    assert_eq!(ran.events[4].details["output"], json!({"k": 1}));
    assert_eq!(ran.outcome.state_transitions, 3);
}

#[test]
fn an_execution_parks_again_and_again_in_a_loop() {
    let ran = run(
        json!({"StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"i": 0}, "Next": "Count"},
            "Count": {"Type": "Pass", "Assign": {"i.$": "States.MathAdd($i, 1)"}, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 10, "Next": "Done?"},
            "Done?": {"Type": "Choice",
                      "Choices": [{"Variable": "$i", "NumericGreaterThanEquals": 3, "Next": "End"}],
                      "Default": "Count"},
            "End": {"Type": "Pass", "Parameters": {"i.$": "$i"}, "End": true}
        }}),
        json!({}),
    );
    assert_eq!(ran.output(), json!({"i": 3}));
    assert_eq!(ran.elapsed_s(), 30.0);
    assert_eq!(ran.outcome.state_transitions, 1 + 3 * 3 + 1);
}

#[test]
fn a_parked_wait_past_the_time_limit_times_out_at_the_limit() {
    let ran = run(
        json!({"StartAt": "P", "TimeoutSeconds": 10, "States": {
            "P": {"Type": "Pass", "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 11, "Next": "Q"},
            "Q": {"Type": "Pass", "End": true}
        }}),
        json!({}),
    );
    assert_eq!(ran.outcome.status, asl::Status::TimedOut);
    assert_eq!(ran.elapsed_s(), 10.0);
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "WaitStateEntered",
            "ExecutionTimedOut"
        ]
    );
    assert_eq!(ran.events[4].previous_event_id, 4);
    assert_eq!(
        ran.events[4].event_timestamp_ms - ran.events[3].event_timestamp_ms,
        10_000
    );
}

#[test]
fn a_parked_wait_that_ends_at_the_time_limit_still_runs_what_follows() {
    // The states after it await nothing: they end within the poll that the limit shares
    // with the wait's end, as when the wait and the timeout raced in one future.
    let ran = run(
        json!({"StartAt": "W", "TimeoutSeconds": 10, "States": {
            "W": {"Type": "Wait", "Seconds": 10, "Next": "Q"},
            "Q": {"Type": "Pass", "End": true}
        }}),
        json!({"v": 1}),
    );
    assert_eq!(ran.output(), json!({"v": 1}));
}

#[test]
fn a_wait_inside_a_parallel_branch_waits_in_place() {
    let ran = run(
        single(json!({"Type": "Parallel", "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 4, "End": true}}},
            {"StartAt": "V", "States": {"V": {"Type": "Wait", "Seconds": 6, "End": true}}}
        ]})),
        json!(1),
    );
    assert_eq!(ran.output(), json!([1, 1]));
    assert_eq!(ran.elapsed_s(), 6.0);
}

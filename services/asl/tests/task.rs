//! Task: the result's way through ResultSelector/ResultPath/OutputPath, timeouts,
//! heartbeats, errors and callback tokens. AWS: "Task workflow state", "Processing input
//! and output", "Wait for a Callback with Task Token".

use crate::util::*;
use serde_json::{json, Value};

const RES: &str = "arn:aws:states:::test:run";

fn task(extra: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": RES});
    for (k, v) in extra.as_object().unwrap() {
        state[k] = v.clone();
    }
    single(state)
}

#[test]
fn task_receives_parameters_and_returns_result() {
    let ran = run_script(
        task(json!({"Parameters": {"v.$": "$.in"}})),
        json!({"in": 3}),
        |c| ok(json!({"got": c.input.clone()})),
    );
    assert_eq!(ran.calls[0].resource, RES);
    assert_eq!(ran.calls[0].input, json!({"v": 3}));
    assert_eq!(ran.output(), json!({"got": {"v": 3}}));
}

#[test]
fn result_selector_result_path_output_path() {
    let ran = run_script(
        task(json!({
            "ResultSelector": {"x.$": "$.a", "k": "lit"},
            "ResultPath": "$.res",
            "OutputPath": "$.res"
        })),
        json!({"in": 0}),
        |_| ok(json!({"a": 1, "b": 2})),
    );
    assert_eq!(ran.output(), json!({"x": 1, "k": "lit"}));
}

#[test]
fn result_path_merges_with_input() {
    let ran = run_script(task(json!({"ResultPath": "$.r"})), json!({"in": 0}), |_| {
        ok(json!(5))
    });
    assert_eq!(ran.output(), json!({"in": 0, "r": 5}));
}

#[test]
fn result_path_null_keeps_input() {
    let ran = run_script(task(json!({"ResultPath": null})), json!({"in": 0}), |_| {
        ok(json!(5))
    });
    assert_eq!(ran.output(), json!({"in": 0}));
}

#[test]
fn result_selector_missing_path_is_runtime_error() {
    let ran = run_script(
        task(json!({"ResultSelector": {"x.$": "$.nope"}})),
        json!({}),
        |_| ok(json!({"a": 1})),
    );
    assert_eq!(ran.error(), "States.Runtime");
}

#[test]
fn timeout_seconds_times_out_a_slow_task() {
    let ran = run_script(task(json!({"TimeoutSeconds": 5})), json!({}), |_| {
        after(10.0, ok(json!("late")))
    });
    assert_eq!(ran.error(), "States.Timeout");
    assert_eq!(ran.elapsed_s(), 5.0);
}

#[test]
fn timeout_seconds_lets_a_fast_task_finish() {
    let ran = run_script(task(json!({"TimeoutSeconds": 5})), json!({}), |_| {
        after(4.0, ok(json!("done")))
    });
    assert_eq!(ran.output(), json!("done"));
}

#[test]
fn timeout_seconds_path_times_out() {
    let ran = run_script(
        task(json!({"TimeoutSecondsPath": "$.t"})),
        json!({"t": 2}),
        |_| after(10.0, ok(json!("late"))),
    );
    assert_eq!(ran.error(), "States.Timeout");
    assert_eq!(ran.elapsed_s(), 2.0);
}

#[test]
fn timeout_seconds_path_long_enough() {
    let ran = run_script(
        task(json!({"TimeoutSecondsPath": "$.t"})),
        json!({"t": 20}),
        |_| after(10.0, ok(json!("done"))),
    );
    assert_eq!(ran.output(), json!("done"));
}

#[test]
fn timeout_is_caught_as_states_timeout() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": RES, "TimeoutSeconds": 1,
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
                        {"ErrorEquals": ["States.Timeout"], "Next": "Right"}], "End": true},
        "Wrong": {"Type": "Pass", "Result": "wrong", "End": true},
        "Right": {"Type": "Pass", "Result": "right", "End": true}
    }});
    let ran = run_script(def, json!({}), |_| after(5.0, ok(json!(1))));
    assert_eq!(ran.output(), json!("right"));
}

#[test]
fn heartbeat_seconds_reaches_the_integration() {
    let ran = run_script(
        task(json!({"HeartbeatSeconds": 3, "TimeoutSeconds": 10})),
        json!({}),
        |_| ok(json!(1)),
    );
    assert_eq!(ran.calls[0].heartbeat, Some(3));
    assert_eq!(ran.output(), json!(1));
}

#[test]
fn task_error_name_and_cause_propagate() {
    let ran = run_script(task(json!({})), json!({}), |_| fail("MyError", "it broke"));
    assert_eq!(ran.error(), "MyError");
    assert_eq!(ran.cause(), "it broke");
}

#[test]
fn wait_for_task_token_exposes_token_to_parameters() {
    // Express workflows refuse `.waitForTaskToken`; this runs as STANDARD.
    let ran = run_full(
        &task(json!({
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"token.$": "$$.Task.Token"}
        })),
        json!({}),
        asl::validate::MachineType::Standard,
        asl::history::Level::All,
        |c| ok(json!({"echo": c.input["token"].clone()})),
    );
    let token = ran.calls[0].token.clone().expect("a token");
    assert!(!token.is_empty());
    assert_eq!(ran.calls[0].input, json!({"token": token}));
    assert_eq!(ran.output(), json!({"echo": token}));
}

#[test]
fn express_refuses_wait_for_task_token() {
    rejected_as(
        task(json!({"Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken"})),
        asl::validate::MachineType::Express,
    );
}

#[test]
fn plain_task_has_no_token() {
    let ran = run_script(task(json!({})), json!({}), |_| ok(json!(1)));
    assert_eq!(ran.calls[0].token, None);
}

#[test]
fn task_output_too_large_is_data_limit_exceeded() {
    let ran = run_script(task(json!({})), json!({}), |_| {
        ok(json!("a".repeat(300_000)))
    });
    assert_eq!(ran.error(), "States.DataLimitExceeded");
}

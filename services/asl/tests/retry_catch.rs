//! Retry and Catch on Task states: attempt counts, backoff timing, retrier order,
//! `States.ALL`/`States.TaskFailed`, the error output and what cannot be caught.
//! AWS: "Handling errors in Step Functions workflows" (Retry, Catch, error names,
//! complex retry scenarios).

use crate::util::*;
use serde_json::{json, Value};

const RES: &str = "arn:aws:states:::test:run";

fn retrying(retry: Value) -> Value {
    single(json!({"Type": "Task", "Resource": RES, "Retry": retry}))
}

fn times(ran: &Ran) -> Vec<f64> {
    ran.calls.iter().map(|c| c.at_s).collect()
}

fn always(name: &'static str) -> impl Fn(&Call) -> Reply + Send + Sync {
    move |_| fail(name, "boom")
}

#[test]
fn max_attempts_counts_retries_after_the_first_try() {
    let ran = run_script(
        retrying(json!([{"ErrorEquals": ["E"], "MaxAttempts": 2}])),
        json!({}),
        always("E"),
    );
    assert_eq!(ran.calls.len(), 3);
    assert_eq!(ran.error(), "E");
}

#[test]
fn max_attempts_zero_never_retries() {
    let ran = run_script(
        retrying(json!([{"ErrorEquals": ["E"], "MaxAttempts": 0}])),
        json!({}),
        always("E"),
    );
    assert_eq!(ran.calls.len(), 1);
    assert_eq!(ran.error(), "E");
}

#[test]
fn defaults_are_three_attempts_one_second_doubling() {
    let ran = run_script(
        retrying(json!([{"ErrorEquals": ["E"]}])),
        json!({}),
        always("E"),
    );
    assert_eq!(times(&ran), vec![0.0, 1.0, 3.0, 7.0]);
}

#[test]
fn interval_times_backoff_rate() {
    // The guide's example: "makes 2 retry attempts after waiting for 3 and 4.5 seconds".
    let ran = run_script(
        retrying(
            json!([{"ErrorEquals": ["E"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}]),
        ),
        json!({}),
        always("E"),
    );
    assert_eq!(times(&ran), vec![0.0, 3.0, 7.5]);
}

#[test]
fn max_delay_seconds_caps_the_backoff() {
    let ran = run_script(
        retrying(
            json!([{"ErrorEquals": ["E"], "IntervalSeconds": 10, "BackoffRate": 3,
                         "MaxAttempts": 3, "MaxDelaySeconds": 20}]),
        ),
        json!({}),
        always("E"),
    );
    assert_eq!(times(&ran), vec![0.0, 10.0, 30.0, 50.0]);
}

#[test]
fn jitter_full_waits_at_most_the_backoff() {
    let ran = run_script(
        retrying(
            json!([{"ErrorEquals": ["E"], "IntervalSeconds": 10, "BackoffRate": 1,
                         "MaxAttempts": 4, "JitterStrategy": "FULL"}]),
        ),
        json!({}),
        always("E"),
    );
    let t = times(&ran);
    assert_eq!(t.len(), 5);
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| (0.0..=10.0).contains(g)), "{gaps:?}");
    assert!(
        gaps.iter().any(|g| *g < 10.0),
        "jitter never shortened a wait: {gaps:?}"
    );
}

#[test]
fn jitter_none_is_the_plain_backoff() {
    let ran = run_script(
        retrying(
            json!([{"ErrorEquals": ["E"], "IntervalSeconds": 2, "MaxAttempts": 1, "JitterStrategy": "NONE"}]),
        ),
        json!({}),
        always("E"),
    );
    assert_eq!(times(&ran), vec![0.0, 2.0]);
}

#[test]
fn failing_then_succeeding() {
    let ran = run_script(
        retrying(json!([{"ErrorEquals": ["E"], "MaxAttempts": 5}])),
        json!({}),
        |c| {
            if c.index < 2 {
                fail("E", "again")
            } else {
                ok(json!({"attempt": c.index}))
            }
        },
    );
    assert_eq!(ran.calls.len(), 3);
    assert_eq!(ran.output(), json!({"attempt": 2}));
}

#[test]
fn unmatched_error_is_not_retried() {
    let ran = run_script(
        retrying(json!([{"ErrorEquals": ["Other"]}])),
        json!({}),
        always("E"),
    );
    assert_eq!(ran.calls.len(), 1);
}

#[test]
fn first_matching_retrier_is_used_without_fallthrough() {
    // Once the first matching retrier is exhausted, later ones (even States.ALL) do not apply.
    let ran = run_script(
        retrying(json!([
            {"ErrorEquals": ["E"], "MaxAttempts": 1, "IntervalSeconds": 1},
            {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5, "IntervalSeconds": 1}
        ])),
        json!({}),
        always("E"),
    );
    assert_eq!(ran.calls.len(), 2);
    assert_eq!(ran.error(), "E");
}

#[test]
fn retriers_keep_their_own_counts_across_errors() {
    // The guide's complex retry scenario: ErrorA, ErrorB, ErrorC, ErrorB; waits of 1, 2
    // and 5 seconds; the fourth error finds the first retrier exhausted and is caught.
    let def = json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": RES, "Next": "Y",
              "Retry": [
                  {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
                  {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}
              ],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}]},
        "Y": {"Type": "Pass", "Result": "Y", "End": true},
        "Z": {"Type": "Pass", "Result": "Z", "End": true}
    }});
    let ran = run_script(def, json!({}), |c| {
        let name = ["ErrorA", "ErrorB", "ErrorC", "ErrorB", "ErrorB"][c.index];
        fail(name, "x")
    });
    assert_eq!(times(&ran), vec![0.0, 1.0, 3.0, 8.0]);
    assert_eq!(ran.output(), json!("Z"));
}

#[test]
fn states_all_retries_any_error() {
    let ran = run_script(
        retrying(json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}])),
        json!({}),
        always("Whatever"),
    );
    assert_eq!(ran.calls.len(), 2);
}

#[test]
fn task_failed_retries_task_errors() {
    let ran = run_script(
        retrying(json!([{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1}])),
        json!({}),
        always("Lambda.Unknown"),
    );
    assert_eq!(ran.calls.len(), 2);
}

#[test]
fn task_failed_does_not_match_timeout() {
    let def = single(json!({"Type": "Task", "Resource": RES, "TimeoutSeconds": 1,
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 3}]}));
    let ran = run_script(def, json!({}), |_| after(5.0, ok(json!(1))));
    assert_eq!(ran.calls.len(), 1);
    assert_eq!(ran.error(), "States.Timeout");
}

#[test]
fn timeout_is_retried_by_states_timeout() {
    let def = single(json!({"Type": "Task", "Resource": RES, "TimeoutSeconds": 2,
        "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2, "IntervalSeconds": 1}]}));
    let ran = run_script(def, json!({}), |_| after(5.0, ok(json!(1))));
    assert_eq!(times(&ran), vec![0.0, 3.0, 7.0]);
    assert_eq!(ran.error(), "States.Timeout");
}

#[test]
fn retry_count_is_visible_in_parameters() {
    let def = single(json!({"Type": "Task", "Resource": RES,
        "Parameters": {"n.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 3, "IntervalSeconds": 1}]}));
    let ran = run_script(def, json!({}), |c| {
        if c.index < 2 {
            fail("E", "")
        } else {
            ok(json!("ok"))
        }
    });
    let seen: Vec<Value> = ran.calls.iter().map(|c| c.input["n"].clone()).collect();
    assert_eq!(seen, vec![json!(0), json!(1), json!(2)]);
}

#[test]
fn runtime_errors_are_not_retried() {
    let def = single(json!({"Type": "Task", "Resource": RES,
        "ResultSelector": {"x.$": "$.missing"},
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]}));
    let ran = run_script(def, json!({}), |_| ok(json!({})));
    assert_eq!(ran.calls.len(), 1);
    assert_eq!(ran.error(), "States.Runtime");
}

// ---- Catch ----

/// A Task whose catchers go to `A` or `B`; a trailing never-matching catcher keeps both
/// reachable (AWS refuses unreachable states).
fn catching(catch: Value) -> Value {
    let mut catch = catch;
    if !catch.to_string().contains("\"Next\":\"B\"") {
        catch
            .as_array_mut()
            .unwrap()
            .push(json!({"ErrorEquals": ["Test.Never"], "Next": "B"}));
    }
    if !catch.to_string().contains("\"Next\":\"A\"") {
        catch
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"ErrorEquals": ["Test.Never"], "Next": "A"}));
    }
    json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": RES, "Catch": catch, "End": true},
        "A": {"Type": "Pass", "Parameters": {"at": "A", "in.$": "$"}, "End": true},
        "B": {"Type": "Pass", "Parameters": {"at": "B", "in.$": "$"}, "End": true}
    }})
}

#[test]
fn catchers_are_scanned_in_order() {
    let def = catching(json!([
        {"ErrorEquals": ["E1"], "Next": "A"},
        {"ErrorEquals": ["States.ALL"], "Next": "B"}
    ]));
    let ran = run_script(def.clone(), json!({}), always("E1"));
    assert_eq!(ran.output()["at"], "A");
    let ran = run_script(def, json!({}), always("E2"));
    assert_eq!(ran.output()["at"], "B");
}

#[test]
fn first_of_several_matching_catchers_wins() {
    let def = catching(json!([
        {"ErrorEquals": ["States.TaskFailed"], "Next": "A"},
        {"ErrorEquals": ["E1"], "Next": "B"}
    ]));
    assert_eq!(run_script(def, json!({}), always("E1")).output()["at"], "A");
}

#[test]
fn error_output_replaces_input_by_default() {
    let def = catching(json!([{"ErrorEquals": ["E1"], "Next": "A"}]));
    let ran = run_script(def, json!({"orig": 1}), |_| fail("E1", "the cause"));
    assert_eq!(
        ran.output(),
        json!({"at": "A", "in": {"Error": "E1", "Cause": "the cause"}})
    );
}

#[test]
fn catcher_result_path_adds_error_to_input() {
    let def = catching(json!([{"ErrorEquals": ["E1"], "ResultPath": "$.err", "Next": "A"}]));
    let ran = run_script(def, json!({"orig": 1}), |_| fail("E1", "c"));
    assert_eq!(
        ran.output(),
        json!({"at": "A", "in": {"orig": 1, "err": {"Error": "E1", "Cause": "c"}}})
    );
}

#[test]
fn catcher_result_path_null_keeps_input() {
    let def = catching(json!([{"ErrorEquals": ["E1"], "ResultPath": null, "Next": "A"}]));
    let ran = run_script(def, json!({"orig": 1}), |_| fail("E1", "c"));
    assert_eq!(ran.output(), json!({"at": "A", "in": {"orig": 1}}));
}

#[test]
fn catch_states_all_catches_timeout() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": RES, "TimeoutSeconds": 1,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}], "End": true},
        "A": {"Type": "Pass", "End": true}
    }});
    let ran = run_script(def, json!({}), |_| after(3.0, ok(json!(1))));
    assert_eq!(ran.output()["Error"], "States.Timeout");
}

#[test]
fn catch_applies_after_retries_are_exhausted() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": RES,
              "Retry": [{"ErrorEquals": ["E1"], "MaxAttempts": 2, "IntervalSeconds": 1}],
              "Catch": [{"ErrorEquals": ["E1"], "Next": "A"}], "End": true},
        "A": {"Type": "Pass", "Result": "caught", "End": true}
    }});
    let ran = run_script(def, json!({}), always("E1"));
    assert_eq!(ran.calls.len(), 3);
    assert_eq!(ran.output(), json!("caught"));
}

#[test]
fn runtime_error_is_not_caught() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": RES, "ResultSelector": {"x.$": "$.missing"},
              "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "A"},
                        {"ErrorEquals": ["States.ALL"], "Next": "A"}], "End": true},
        "A": {"Type": "Pass", "End": true}
    }});
    let ran = run_script(def, json!({}), |_| ok(json!({})));
    assert_eq!(ran.error(), "States.Runtime");
}

#[test]
fn uncaught_error_fails_the_execution() {
    let def = catching(json!([{"ErrorEquals": ["E1"], "Next": "A"}]));
    let ran = run_script(def, json!({}), |_| fail("E2", "cause two"));
    assert_eq!((ran.error(), ran.cause()), ("E2", "cause two"));
}

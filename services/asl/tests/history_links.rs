//! History links: which event each event follows (`previousEventId`) where that is not the
//! event just before it, and the events AWS records on failure paths (its recorded histories
//! in ../shared/conformance/history are the reference; `history_conformance` runs them all).

use crate::util::*;
use serde_json::json;

/// Each event as (id, previousEventId, type), for one-line expectations.
fn links(ran: &Ran) -> Vec<(u64, u64, &'static str)> {
    ran.events
        .iter()
        .map(|e| (e.id, e.previous_event_id, e.event_type.as_str()))
        .collect()
}

#[test]
fn map_iterations_follow_the_previous_iteration_and_the_exit_skips_succeeded() {
    let def = single(json!({"Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}));
    let ran = run(def, json!([1, 2]));
    assert_eq!(
        links(&ran),
        [
            (1, 0, "ExecutionStarted"),
            (2, 0, "MapStateEntered"),
            (3, 2, "MapStateStarted"),
            (4, 3, "MapIterationStarted"),
            (5, 4, "PassStateEntered"),
            (6, 5, "PassStateExited"),
            (7, 6, "MapIterationSucceeded"),
            // The next iteration follows the last state event of the one before, not its
            // MapIterationSucceeded.
            (8, 6, "MapIterationStarted"),
            (9, 8, "PassStateEntered"),
            (10, 9, "PassStateExited"),
            (11, 10, "MapIterationSucceeded"),
            (12, 11, "MapStateSucceeded"),
            (13, 11, "MapStateExited"),
            (14, 13, "ExecutionSucceeded"),
        ]
    );
    assert_eq!(ran.events[10].details["name"], "S");
}

#[test]
fn a_retried_task_schedules_after_its_failure() {
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::test:run",
        "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 1}]}),
    );
    let ran = run_script(def, json!({}), |c| match c.index {
        0 => fail("E", "c"),
        _ => ok(json!(1)),
    });
    assert_eq!(
        links(&ran)[2..],
        [
            (3, 2, "TaskScheduled"),
            (4, 3, "TaskStarted"),
            (5, 4, "TaskFailed"),
            (6, 5, "TaskScheduled"),
            (7, 6, "TaskStarted"),
            (8, 7, "TaskSucceeded"),
            (9, 8, "TaskStateExited"),
            (10, 9, "ExecutionSucceeded"),
        ]
    );
}

#[test]
fn a_retried_map_records_no_failure_until_the_last_attempt() {
    let def = single(json!({"Type": "Map",
        "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}},
        "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 1, "MaxAttempts": 1}]}));
    let ran = run(def, json!([1]));
    assert_eq!(
        links(&ran),
        [
            (1, 0, "ExecutionStarted"),
            (2, 0, "MapStateEntered"),
            (3, 2, "MapStateStarted"),
            (4, 3, "MapIterationStarted"),
            (5, 4, "FailStateEntered"),
            (6, 5, "MapIterationFailed"),
            // The retry follows the failed iteration's last event; no MapStateFailed.
            (7, 5, "MapStateStarted"),
            (8, 7, "MapIterationStarted"),
            (9, 8, "FailStateEntered"),
            (10, 9, "MapIterationFailed"),
            (11, 9, "MapStateFailed"),
            (12, 11, "ExecutionFailed"),
        ]
    );
    assert_eq!(ran.events[9].details["name"], "S");
    assert_eq!(ran.events[10].details["error"], "E");
}

#[test]
fn a_task_failing_a_parallel_branch_is_aborted() {
    let branch = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::test:run", "End": true}}});
    let def = single(json!({"Type": "Parallel", "Branches": [branch],
        "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 1, "MaxAttempts": 1}]}));
    let ran = run_script(def, json!({}), |_| fail("E", "c"));
    assert_eq!(
        links(&ran)[2..],
        [
            (3, 2, "ParallelStateStarted"),
            (4, 3, "TaskStateEntered"),
            (5, 4, "TaskScheduled"),
            (6, 5, "TaskStarted"),
            (7, 6, "TaskFailed"),
            (8, 7, "TaskStateAborted"),
            // A side event: the retry follows the task's failure.
            (9, 7, "ParallelStateStarted"),
            (10, 9, "TaskStateEntered"),
            (11, 10, "TaskScheduled"),
            (12, 11, "TaskStarted"),
            (13, 12, "TaskFailed"),
            (14, 13, "TaskStateAborted"),
            (15, 13, "ParallelStateFailed"),
            (16, 15, "ExecutionFailed"),
        ]
    );
}

#[test]
fn a_task_failing_at_the_top_is_not_aborted() {
    let def = single(json!({"Type": "Task", "Resource": "arn:aws:states:::test:run"}));
    let ran = run_script(def, json!({}), |_| fail("E", "c"));
    assert_eq!(ran.types()[4..], ["TaskFailed", "ExecutionFailed"]);
}

#[test]
fn a_distributed_map_records_its_map_run_only() {
    let def = single(json!({"Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}));
    let ran = run(def, json!([1, 2, 3]));
    assert_eq!(
        links(&ran),
        [
            (1, 0, "ExecutionStarted"),
            (2, 0, "MapStateEntered"),
            (3, 2, "MapStateStarted"),
            (4, 3, "MapRunStarted"),
            (5, 4, "MapRunSucceeded"),
            (6, 5, "MapStateSucceeded"),
            (7, 4, "MapStateExited"),
            (8, 7, "ExecutionSucceeded"),
        ]
    );
    assert_eq!(ran.output(), json!([1, 2, 3]));
}

#[test]
fn a_distributed_map_past_its_tolerance_fails_its_map_run() {
    let def = single(json!({"Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}}));
    let ran = run(def, json!([1]));
    assert_eq!(
        links(&ran)[3..],
        [
            (4, 3, "MapRunStarted"),
            (5, 4, "MapRunFailed"),
            (6, 5, "MapStateFailed"),
            (7, 6, "ExecutionFailed"),
        ]
    );
    assert_eq!(ran.error(), "States.ExceedToleratedFailureThreshold");
}

#[test]
fn evaluation_failures_follow_the_event_before_the_state_except_in_a_wait() {
    let pass = chain(&[
        ("A", json!({"Type": "Pass"})),
        (
            "B",
            json!({"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $x.y() %}"}),
        ),
    ]);
    let ran = run(pass, json!({}));
    assert_eq!(
        links(&ran)[3..],
        [
            (4, 3, "PassStateEntered"),
            (5, 3, "EvaluationFailed"),
            (6, 5, "ExecutionFailed")
        ]
    );
    let wait = single(json!({"Type": "Wait", "QueryLanguage": "JSONata",
        "Timestamp": "{% 'not a time' %}"}));
    let ran = run(wait, json!({}));
    assert_eq!(
        links(&ran)[1..],
        [
            (2, 0, "WaitStateEntered"),
            (3, 2, "EvaluationFailed"),
            (4, 3, "ExecutionFailed")
        ]
    );
    assert_eq!(ran.error(), "States.QueryEvaluationError");
}

#[test]
fn a_jsonata_map_on_a_non_array_records_evaluation_failed_then_map_failed() {
    let def = single(json!({"Type": "Map", "QueryLanguage": "JSONata",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}));
    let ran = run(def, json!({"not": "an array"}));
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "EvaluationFailed",
            "MapStateFailed",
            "ExecutionFailed"
        ]
    );
    assert_eq!(ran.events[2].details["location"], "Items");
}

#[test]
fn an_oversized_task_result_fails_the_task() {
    let def = single(json!({"Type": "Task", "Resource": "arn:aws:states:::test:run"}));
    let ran = run_script(def, json!({}), |_| ok(json!("x".repeat(300_000))));
    assert_eq!(ran.types()[4..], ["TaskFailed", "ExecutionFailed"]);
    assert_eq!(ran.events[4].details["error"], "States.DataLimitExceeded");
}

#[test]
fn task_details_name_the_service_and_action_or_the_function() {
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "TimeoutSeconds": 5, "Parameters": {"FunctionName": "f", "Payload": {"a": 1}}}),
    );
    let ran = run_script(def, json!({}), |_| ok(json!({"Payload": 1})));
    assert_eq!(
        ran.events[2].details,
        json!({"region": "us-east-1",
               "parameters": {"FunctionName": "f", "Payload": {"a": 1}},
               "timeoutInSeconds": 5, "resourceType": "lambda", "resource": "invoke"})
    );
    assert_eq!(
        ran.events[4].details,
        json!({"output": {"Payload": 1}, "resourceType": "lambda", "resource": "invoke"})
    );
    let arn = "arn:aws:lambda:us-east-1:111111111111:function:f";
    let ran = run_script(
        single(json!({"Type": "Task", "Resource": arn})),
        json!({"a": 1}),
        |_| fail("E", "c"),
    );
    assert_eq!(
        ran.events[2].details,
        json!({"resource": arn, "input": {"a": 1}})
    );
    assert_eq!(ran.events[3].details, json!({}));
    assert_eq!(ran.events[4].details, json!({"error": "E", "cause": "c"}));
}

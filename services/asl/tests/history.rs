//! History: the event types AWS records for each state, consecutive ids, previous ids,
//! timestamps from the clock, and log levels. AWS: "HistoryEvent" (API reference) and
//! "Log levels" for Express workflows.

use crate::util::*;
use asl::history::Level;
use asl::validate::MachineType;
use serde_json::json;

fn check_ids(ran: &Ran) {
    for (i, event) in ran.events.iter().enumerate() {
        assert_eq!(event.id, i as u64 + 1, "{:?}", ran.types());
        assert!(event.previous_event_id < event.id);
    }
    assert_eq!(ran.events.first().map(|e| e.previous_event_id), Some(0));
}

#[test]
fn pass_choice_succeed() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "S"}]},
        "S": {"Type": "Succeed"}
    }});
    let ran = run(def, json!({"v": 1}));
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    check_ids(&ran);
    // A sequential machine: each event follows the one before it, except the first state's
    // entry, which AWS links to no event (previousEventId 0).
    for event in &ran.events[2..] {
        assert_eq!(event.previous_event_id, event.id - 1);
    }
    assert_eq!(ran.events[1].previous_event_id, 0);
    assert_eq!(ran.events[1].details["name"], "P");
    assert_eq!(
        ran.events.last().unwrap().details["output"],
        json!({"v": 1})
    );
}

#[test]
fn task_with_a_retry() {
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::test:run",
        "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 2}]}),
    );
    let ran = run_script(def, json!({}), |c| {
        if c.index == 0 {
            fail("E", "c")
        } else {
            ok(json!(1))
        }
    });
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    check_ids(&ran);
    assert_eq!(ran.events[4].details["error"], "E");
    assert_eq!(
        ran.events[5].event_timestamp_ms - ran.events[4].event_timestamp_ms,
        2_000
    );
}

#[test]
fn lambda_tasks_have_lambda_events() {
    let def = single(json!({"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f"}));
    let ran = run_script(def, json!({}), |_| ok(json!(1)));
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn task_timeout_event() {
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::test:run", "TimeoutSeconds": 1}),
    );
    let ran = run_script(def, json!({}), |_| after(5.0, ok(json!(1))));
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskTimedOut",
            "ExecutionFailed"
        ]
    );
}

#[test]
fn map() {
    let def = single(json!({"Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}));
    let ran = run(def, json!([1, 2]));
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapIterationStarted",
            "PassStateEntered",
            "PassStateExited",
            "MapIterationSucceeded",
            "MapIterationStarted",
            "PassStateEntered",
            "PassStateExited",
            "MapIterationSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    check_ids(&ran);
    assert_eq!(ran.events[2].details["length"], 2);
    assert_eq!(ran.events[7].details["index"], 1);
}

#[test]
fn parallel() {
    let branch = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let def = single(json!({"Type": "Parallel", "Branches": [branch]}));
    let ran = run(def, json!({}));
    assert_eq!(
        ran.types(),
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "PassStateEntered",
            "PassStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
    check_ids(&ran);
}

#[test]
fn fail_state() {
    let ran = run(
        single(json!({"Type": "Fail", "Error": "E", "Cause": "C"})),
        json!({}),
    );
    assert_eq!(
        ran.types(),
        ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    );
    assert_eq!(ran.events[2].details, json!({"error": "E", "cause": "C"}));
}

#[test]
fn wait_timestamps_follow_the_virtual_clock() {
    let ran = run(single(json!({"Type": "Wait", "Seconds": 3})), json!({}));
    let stamps: Vec<i64> = ran
        .events
        .iter()
        .map(|e| e.event_timestamp_ms - START_MS)
        .collect();
    assert_eq!(stamps, [0, 0, 3_000, 3_000]);
}

#[test]
fn level_off_records_nothing() {
    let def = single(json!({"Type": "Fail", "Error": "E"}));
    let ran = run_full(&def, json!({}), MachineType::Express, Level::Off, |_| {
        ok(json!(1))
    });
    assert!(ran.events.is_empty());
    assert_eq!(ran.error(), "E");
}

#[test]
fn level_error_records_only_errors() {
    let def = chain(&[
        ("P", json!({"Type": "Pass"})),
        ("F", json!({"Type": "Fail", "Error": "E"})),
    ]);
    let ran = run_full(&def, json!({}), MachineType::Express, Level::Error, |_| {
        ok(json!(1))
    });
    assert_eq!(ran.types(), ["FailStateEntered", "ExecutionFailed"]);
    // Ids still count the events nobody recorded.
    assert_eq!(ran.events[0].id, 4);
}

#[test]
fn level_fatal_records_only_execution_failure() {
    let def = single(json!({"Type": "Fail", "Error": "E"}));
    let ran = run_full(&def, json!({}), MachineType::Express, Level::Fatal, |_| {
        ok(json!(1))
    });
    assert_eq!(ran.types(), ["ExecutionFailed"]);
}

/// An observer that takes no execution data (`includeExecutionData: false`).
struct WithoutData {
    data: bool,
    events: std::sync::Mutex<Vec<asl::history::HistoryEvent>>,
}

impl asl::history::HistoryObserver for WithoutData {
    fn level(&self) -> Level {
        Level::All
    }
    fn include_execution_data(&self) -> bool {
        self.data
    }
    fn record(&self, event: asl::history::HistoryEvent) {
        self.events.lock().unwrap().push(event);
    }
}

#[test]
fn without_execution_data_events_are_the_same_less_input_and_output() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": {"x": [1, "é"]}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x[0]", "NumericEquals": 1, "Next": "S"}],
              "Default": "F"},
        "F": {"Type": "Fail", "Error": "E"},
        "S": {"Type": "Succeed"}}});
    let histories: Vec<Vec<asl::history::HistoryEvent>> = [true, false]
        .into_iter()
        .map(|data| {
            let observer = WithoutData {
                data,
                events: Default::default(),
            };
            run_observed(
                &def,
                json!({"in": true}),
                vec![],
                MachineType::Express,
                Some(&observer),
            )
            .expect("runs");
            observer.events.into_inner().unwrap()
        })
        .collect();
    let (with, without) = (&histories[0], &histories[1]);
    assert_eq!(with.len(), without.len());
    let mut dropped = 0;
    for (full, bare) in with.iter().zip(without) {
        let mut expected = full.clone();
        if let serde_json::Value::Object(map) = &mut expected.details {
            dropped += usize::from(map.remove("input").is_some());
            dropped += usize::from(map.remove("output").is_some());
        }
        assert_eq!(&expected, bare);
    }
    assert!(dropped >= 6, "the history had data to drop: {dropped}");
}

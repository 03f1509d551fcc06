//! `Machine::test_state`: one state, once, as the TestState API runs it — the data flow
//! recorded step by step, Retry reported as RETRIABLE, Catch as CAUGHT_ERROR.

use asl::interpret::{SplitMix64, VirtualClock};
use asl::validate::MachineType;
use asl::{
    ErrorName, ExecutionInfo, Machine, Services, StatesError, TaskHandler, TaskRequest,
    TestStateInput, TestStatus,
};
use futures::future::BoxFuture;
use serde_json::{json, Value};

struct Failing;

impl TaskHandler for Failing {
    fn invoke<'a>(&'a self, _: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async {
            Err(StatesError::new(
                ErrorName::Custom("Boom".into()),
                "it broke",
            ))
        })
    }
}

fn test(definition: Value, state: &str, input: Value, retries: u64) -> asl::TestStateOutcome {
    let machine = Machine::from_definition(&definition, MachineType::Standard).expect("valid");
    let clock = VirtualClock::new(0);
    let rng = SplitMix64::new(1);
    let services = Services {
        tasks: &Failing,
        clock: &clock,
        rng: &rng,
        tokens: &asl::interpret::CountingTokens::default(),
        history: None,
    };
    let request = TestStateInput {
        state_name: state.into(),
        input,
        retrier_retry_count: retries,
        ..TestStateInput::default()
    };
    clock
        .block_on(machine.test_state(request, &ExecutionInfo::default(), &services))
        .expect("finishes")
        .expect("the state exists")
}

#[test]
fn a_pass_state_records_its_data_flow() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$.in", "Parameters": {"v.$": "$.x"}, "ResultPath": "$.out", "Next": "B"},
        "B": {"Type": "Succeed"}}});
    let outcome = test(definition, "A", json!({"in": {"x": 1}}), 0);
    assert_eq!(outcome.status, TestStatus::Succeeded);
    assert_eq!(outcome.next_state.as_deref(), Some("B"));
    assert_eq!(
        outcome.output,
        Some(json!({"in": {"x": 1}, "out": {"v": 1}}))
    );
    assert_eq!(outcome.inspection["afterInputPath"], json!({"x": 1}));
    assert_eq!(outcome.inspection["afterParameters"], json!({"v": 1}));
    assert_eq!(
        outcome.inspection["afterResultPath"],
        json!({"in": {"x": 1}, "out": {"v": 1}})
    );
}

#[test]
fn retry_then_catch() {
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H", "ResultPath": "$.e"}]},
        "H": {"Type": "Succeed"}}});
    let retriable = test(definition.clone(), "T", json!({}), 1);
    assert_eq!(retriable.status, TestStatus::Retriable);
    assert_eq!(retriable.error.as_deref(), Some("Boom"));
    let caught = test(definition, "T", json!({}), 2);
    assert_eq!(caught.status, TestStatus::CaughtError);
    assert_eq!(caught.next_state.as_deref(), Some("H"));
    assert_eq!(
        caught.output,
        Some(json!({"e": {"Error": "Boom", "Cause": "it broke"}}))
    );
}

#[test]
fn fail_and_unknown_states() {
    let definition =
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}});
    let failed = test(definition.clone(), "F", json!({}), 0);
    assert_eq!(failed.status, TestStatus::Failed);
    assert_eq!(
        (failed.error.as_deref(), failed.cause.as_deref()),
        (Some("E"), Some("C"))
    );
    let machine = Machine::from_definition(&definition, MachineType::Standard).expect("valid");
    let clock = VirtualClock::new(0);
    let rng = SplitMix64::new(1);
    let services = Services {
        tasks: &Failing,
        clock: &clock,
        rng: &rng,
        tokens: &asl::interpret::CountingTokens::default(),
        history: None,
    };
    let request = TestStateInput {
        state_name: "Nope".into(),
        ..TestStateInput::default()
    };
    assert!(clock
        .block_on(machine.test_state(request, &ExecutionInfo::default(), &services))
        .expect("finishes")
        .is_none());
}

fn test_with(definition: Value, request: TestStateInput) -> asl::TestStateOutcome {
    let machine = Machine::from_definition(&definition, MachineType::Standard).expect("valid");
    let clock = VirtualClock::new(0);
    let rng = SplitMix64::new(1);
    let services = Services {
        tasks: &Failing,
        clock: &clock,
        rng: &rng,
        tokens: &asl::interpret::CountingTokens::default(),
        history: None,
    };
    clock
        .block_on(machine.test_state(request, &ExecutionInfo::default(), &services))
        .expect("finishes")
        .expect("the state exists")
}

fn map_machine(tolerance: Value) -> Value {
    let mut map = json!({"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
        "ResultPath": "$.out", "End": true,
        "Catch": [{"ErrorEquals": ["MockException"], "Next": "H"},
                  {"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "H"}]});
    for (k, v) in tolerance.as_object().expect("an object") {
        map[k] = v.clone();
    }
    json!({"StartAt": "M", "States": {"M": map, "H": {"Type": "Succeed"}}})
}

#[test]
fn a_mocked_map_answers_with_the_mock_and_inspects_its_settings() {
    let outcome = test_with(
        map_machine(json!({"ToleratedFailureCount": 1})),
        TestStateInput {
            state_name: "M".into(),
            input: json!({"items": [1, 2, 3]}),
            state_mock: Some(Ok(json!(["a", "b", "c"]))),
            map_iteration_failure_count: Some(1),
            ..TestStateInput::default()
        },
    );
    assert_eq!(outcome.status, TestStatus::Succeeded);
    assert_eq!(
        outcome.output,
        Some(json!({"items": [1, 2, 3], "out": ["a", "b", "c"]}))
    );
    assert_eq!(outcome.inspection["afterItemsPath"], json!([1, 2, 3]));
    assert_eq!(outcome.inspection["maxConcurrency"], json!(2));
    assert_eq!(outcome.inspection["toleratedFailureCount"], json!(1));
    assert!(
        !outcome.inspection.contains_key("result"),
        "Map reports no raw result"
    );
}

#[test]
fn mocked_failures_over_the_tolerance_fail_the_map_and_catch_reports_its_index() {
    for tolerance in [
        json!({"ToleratedFailureCount": 1}),
        json!({"ToleratedFailurePercentage": 50}),
    ] {
        let outcome = test_with(
            map_machine(tolerance),
            TestStateInput {
                state_name: "M".into(),
                input: json!({"items": [1, 2, 3]}),
                state_mock: Some(Ok(json!([0, 0, 1]))),
                map_iteration_failure_count: Some(2),
                ..TestStateInput::default()
            },
        );
        assert_eq!(outcome.status, TestStatus::CaughtError);
        assert_eq!(
            outcome.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
        assert_eq!(outcome.inspection["errorDetails"], json!({"catchIndex": 1}));
    }
}

#[test]
fn a_mocked_error_fails_the_map_and_a_bad_items_path_is_a_runtime_error() {
    let caught = test_with(
        map_machine(json!({})),
        TestStateInput {
            state_name: "M".into(),
            input: json!({"items": []}),
            state_mock: Some(Err(StatesError::new(
                ErrorName::Custom("MockException".into()),
                "c",
            ))),
            ..TestStateInput::default()
        },
    );
    assert_eq!(caught.status, TestStatus::CaughtError);
    assert_eq!(caught.inspection["errorDetails"], json!({"catchIndex": 0}));
    let failed = test_with(
        map_machine(json!({})),
        TestStateInput {
            state_name: "M".into(),
            input: json!({"items": {"not": "an array"}}),
            state_mock: Some(Ok(json!([]))),
            ..TestStateInput::default()
        },
    );
    assert_eq!(failed.status, TestStatus::Failed);
    assert_eq!(
        failed.cause.as_deref(),
        Some("Reference path \"$.items\" must point to array.")
    );
}

#[test]
fn a_mocked_parallel_answers_with_the_mock() {
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
        "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "NotRun"}}}]}}});
    let outcome = test_with(
        definition,
        TestStateInput {
            state_name: "P".into(),
            input: json!({}),
            state_mock: Some(Ok(json!([{"b": 1}]))),
            ..TestStateInput::default()
        },
    );
    assert_eq!(outcome.status, TestStatus::Succeeded);
    assert_eq!(outcome.output, Some(json!([{"b": 1}])));
    let mut keys: Vec<&str> = outcome.inspection.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["afterResultPath", "afterResultSelector", "input"]);
}

#[test]
fn a_state_inside_a_map_can_be_tested() {
    let definition = map_machine(json!({}));
    let machine = Machine::from_definition(&definition, MachineType::Standard).expect("valid");
    assert!(machine.has_state("I"));
    assert!(!machine.has_state("Nope"));
    let outcome = test(definition, "I", json!({"x": 1}), 4);
    // The Task inside fails; it has no Retry or Catch of its own.
    assert_eq!(outcome.status, TestStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("Boom"));
}

#[test]
fn retry_details_report_the_retrier_and_its_backoff() {
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
              "Retry": [{"ErrorEquals": ["Other"]},
                        {"ErrorEquals": ["Boom"], "MaxAttempts": 5, "IntervalSeconds": 1, "BackoffRate": 2.0}]}}});
    let retriable = test(definition.clone(), "T", json!({}), 4);
    assert_eq!(retriable.status, TestStatus::Retriable);
    assert_eq!(
        retriable.inspection["errorDetails"],
        json!({"retryBackoffIntervalSeconds": 16, "retryIndex": 1})
    );
    let spent = test(definition, "T", json!({}), 5);
    assert_eq!(spent.status, TestStatus::Failed);
    assert_eq!(spent.inspection["errorDetails"], json!({"retryIndex": 1}));
}

#[test]
fn inspection_follows_the_state_type_and_query_language() {
    let with_result = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.a", "Result": 1, "End": true}}});
    let keys = |o: &asl::TestStateOutcome| {
        let mut keys = o.inspection.keys().cloned().collect::<Vec<_>>();
        keys.sort_unstable();
        keys
    };
    assert_eq!(
        keys(&test(with_result, "P", json!({"a": 0}), 0)),
        ["afterResultPath", "afterResultSelector", "input", "result"]
    );
    let plain = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let outcome = test(plain, "P", json!({"a": 0}), 0);
    assert_eq!(outcome.inspection["afterParameters"], json!({"a": 0}));
    assert!(!outcome.inspection.contains_key("result"));
    let jsonata = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": "{% $states.input.a %}", "End": true}}});
    assert_eq!(keys(&test(jsonata, "P", json!({"a": 0}), 0)), ["input"]);
}

#[test]
fn the_context_object_is_the_callers_or_names_the_state_under_test() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"c.$": "$$"}, "End": true}}});
    let given = json!({"Execution": {"Id": "x"}});
    let outcome = test_with(
        definition.clone(),
        TestStateInput {
            state_name: "A".into(),
            input: json!({}),
            context: Some(given.clone()),
            ..TestStateInput::default()
        },
    );
    assert_eq!(outcome.output, Some(json!({"c": given})));
    let outcome = test(definition, "A", json!({"i": 1}), 0);
    let context = &outcome.output.expect("output")["c"];
    assert_eq!(context["State"]["Name"], asl::TESTED_STATE_NAME);
    assert_eq!(context["Execution"]["RoleArn"], Value::Null);
    assert_eq!(context["Execution"]["Input"], json!({"i": 1}));
}

#[test]
fn a_mocked_map_inspects_its_item_selector_and_batcher() {
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "ItemBatcher": {"MaxItemsPerBatch": 2},
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}});
    let outcome = test_with(
        definition,
        TestStateInput {
            state_name: "M".into(),
            input: json!(["a", "b", "c"]),
            state_mock: Some(Ok(json!([1, 2]))),
            ..TestStateInput::default()
        },
    );
    assert_eq!(outcome.status, TestStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.inspection["afterItemSelector"],
        json!([{"v": "a", "i": 0}, {"v": "b", "i": 1}, {"v": "c", "i": 2}])
    );
    assert_eq!(
        outcome.inspection["afterItemBatcher"],
        json!([{"Items": [{"v": "a", "i": 0}, {"v": "b", "i": 1}]}, {"Items": [{"v": "c", "i": 2}]}])
    );
}

#[test]
fn a_wait_state_under_test_is_not_waited_out() {
    let definition = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "N"}, "N": {"Type": "Succeed"}}});
    let machine = Machine::from_definition(&definition, MachineType::Standard).expect("valid");
    let clock = VirtualClock::new(0);
    let rng = SplitMix64::new(1);
    let services = Services {
        tasks: &Failing,
        clock: &clock,
        rng: &rng,
        tokens: &asl::interpret::CountingTokens::default(),
        history: None,
    };
    let request = TestStateInput {
        state_name: "W".into(),
        input: json!({"k": 1}),
        ..TestStateInput::default()
    };
    let outcome = clock
        .block_on(machine.test_state(request, &ExecutionInfo::default(), &services))
        .expect("finishes")
        .expect("the state exists");
    assert_eq!(outcome.next_state.as_deref(), Some("N"));
    assert_eq!(outcome.output, Some(json!({"k": 1})));
    assert_eq!(asl::interpret::Clock::now_ms(&clock), 0, "no time passed");
}

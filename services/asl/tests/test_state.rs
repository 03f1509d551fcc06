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

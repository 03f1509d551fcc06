//! `Run::step_in_place` against the general data flow (`attempt_now`): every machine here
//! runs twice, once as compiled and once with every state's `in_place` cleared, and the
//! outcomes and the whole histories must be the same.

use super::api::{ExecutionInfo, Outcome, Services, TaskHandler, TaskRequest};
use super::compile::{Branch, Machine};
use super::{SplitMix64, VirtualClock};
use crate::error::{ErrorName, StatesError};
use crate::history::{HistoryEvent, Recorder};
use futures::future::BoxFuture;
use serde_json::{json, Value};

struct NoTasks;

impl TaskHandler for NoTasks {
    fn invoke<'a>(&'a self, _: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async { Err(StatesError::new(ErrorName::TaskFailed, "no tasks")) })
    }
}

fn run(machine: &Machine, input: &Value) -> (Outcome, Vec<HistoryEvent>) {
    execute(machine, input, false)
}

/// Runs `machine` on a copy of `input`, or (`lend`) on `input` itself.
fn execute(machine: &Machine, input: &Value, lend: bool) -> (Outcome, Vec<HistoryEvent>) {
    let (clock, rng) = (VirtualClock::new(0), SplitMix64::new(1));
    let recorder = Recorder::default();
    let services = Services {
        tasks: &NoTasks,
        clock: &clock,
        rng: &rng,
        tokens: &super::CountingTokens::default(),
        history: Some(&recorder),
    };
    let info = ExecutionInfo::default();
    let outcome = if lend {
        clock.block_on(machine.run_borrowed(input, &info, &services))
    } else {
        clock.block_on(machine.run(input.clone(), &info, &services))
    }
    .expect("the machine finishes");
    (outcome, recorder.events())
}

fn clear_in_place(branch: &mut Branch) -> usize {
    let mut cleared = 0;
    for state in &mut branch.states {
        cleared += usize::from(state.in_place);
        state.in_place = false;
    }
    cleared
}

/// Runs `definition` on `input` both ways, and in place on a lent input; returns the
/// outcome.
fn same_both_ways(definition: Value, input: Value) -> Outcome {
    let mut machine = Machine::compile(&definition).expect("compiles");
    let in_place = run(&machine, &input);
    let lent = execute(&machine, &input, true);
    assert_eq!(
        in_place, lent,
        "{definition} on {input}: a lent input runs the same"
    );
    let cleared = clear_in_place(&mut machine.root);
    assert!(cleared > 0, "{definition}: no state steps in place");
    let general = run(&machine, &input);
    assert_eq!(
        in_place.0, general.0,
        "{definition} on {input}: outcomes differ"
    );
    assert_eq!(
        in_place.1, general.1,
        "{definition} on {input}: histories differ"
    );
    in_place.0
}

fn machine(states: Value, start: &str) -> Value {
    json!({"StartAt": start, "States": states})
}

#[test]
fn pass_states_step_in_place_as_the_general_flow_runs_them() {
    let cases = [
        // Result at a path, into the input.
        json!({"A": {"Type": "Pass", "Result": "big", "ResultPath": "$.class", "End": true}}),
        // Result at a nested path that does not exist yet.
        json!({"A": {"Type": "Pass", "Result": {"k": [1]}, "ResultPath": "$.a.b", "End": true}}),
        // Result replacing the input; discarded.
        json!({"A": {"Type": "Pass", "Result": 7, "Next": "B"},
               "B": {"Type": "Pass", "Result": 8, "ResultPath": null, "End": true}}),
        // Parameters with paths and an intrinsic, replacing the input or beside it.
        json!({"A": {"Type": "Pass",
                     "Parameters": {"id.$": "$.id", "tag.$": "States.Format('o-{}-{}', $.id, $.name)",
                                    "fixed": {"x": 1}, "all.$": "$", "first.$": "$.list[0]"},
                     "Next": "B"},
               "B": {"Type": "Pass", "Parameters": {"again.$": "$.id"}, "ResultPath": "$.p",
                     "End": true}}),
        // No Result, no Parameters: the input is the result, at a path or not.
        json!({"A": {"Type": "Pass", "Next": "B"},
               "B": {"Type": "Pass", "ResultPath": "$.copy", "Next": "C"},
               "C": {"Type": "Pass", "ResultPath": null, "End": true}}),
        // A Succeed after a Pass.
        json!({"A": {"Type": "Pass", "Result": {"done": true}, "Next": "B"},
               "B": {"Type": "Succeed"}}),
    ];
    for states in cases {
        same_both_ways(
            machine(states, "A"),
            json!({"id": 42, "name": "n", "list": ["x", "y"]}),
        );
    }
}

#[test]
fn failures_in_place_are_the_general_flows() {
    // A ResultPath through a string; a Parameters path that is missing; an input that
    // is not an object for a ResultPath.
    let failing = [
        (
            json!({"A": {"Type": "Pass", "Result": 1, "ResultPath": "$.name.x", "End": true}}),
            json!({"name": "n"}),
        ),
        (
            json!({"A": {"Type": "Pass", "Parameters": {"x.$": "$.missing"}, "End": true}}),
            json!({"name": "n"}),
        ),
        (
            json!({"A": {"Type": "Pass", "Result": 1, "ResultPath": "$[5]", "End": true}}),
            json!([1, 2]),
        ),
        (
            json!({"A": {"Type": "Choice",
                         "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "B"}]},
                   "B": {"Type": "Succeed"}}),
            json!({"n": 2}),
        ),
    ];
    for (states, input) in failing {
        let outcome = same_both_ways(machine(states, "A"), input);
        assert_eq!(outcome.status.as_str(), "FAILED", "{outcome:?}");
    }
}

#[test]
fn an_oversized_value_fails_a_pass_in_place_as_in_the_general_flow() {
    // The result fits and so does the input; the first Pass puts them together past the
    // payload limit, and the next Pass, whose result is its input, fails on it.
    let half = "x".repeat(super::PAYLOAD_LIMIT_BYTES / 2 + 10);
    let states = json!({
        "A": {"Type": "Pass", "Parameters": {"a.$": "$.s"}, "ResultPath": "$.t", "Next": "B"},
        "B": {"Type": "Pass", "End": true}
    });
    let outcome = same_both_ways(machine(states, "A"), json!({"s": half}));
    assert_eq!(outcome.error.as_deref(), Some("States.DataLimitExceeded"));
    assert_eq!(
        outcome.state_transitions, 2,
        "the second state fails: {outcome:?}"
    );
}

#[test]
fn choice_states_step_in_place_with_their_rules_assign() {
    let states = json!({
        "Route": {"Type": "Choice",
                  "Choices": [
                      {"Variable": "$.amount", "NumericGreaterThan": 100, "Next": "Big",
                       "Assign": {"size": "big", "seen.$": "$.amount"}},
                      {"And": [{"Variable": "$.amount", "IsPresent": true},
                               {"Not": {"Variable": "$.amount", "NumericEquals": 0}}],
                       "Next": "Small"}
                  ],
                  "Default": "Zero"},
        "Big": {"Type": "Pass", "Parameters": {"size.$": "$size", "seen.$": "$seen"}, "End": true},
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.class", "End": true},
        "Zero": {"Type": "Succeed"}
    });
    for amount in [250, 5, 0] {
        same_both_ways(machine(states.clone(), "Route"), json!({"amount": amount}));
    }
}

#[test]
fn states_with_more_data_flow_take_the_general_path() {
    let machine = Machine::compile(&json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "InputPath": "$.x", "Next": "B"},
            "B": {"Type": "Pass", "OutputPath": "$.y", "Next": "C"},
            "C": {"Type": "Pass", "Assign": {"v": 1}, "Next": "D"},
            "D": {"Type": "Pass", "Result": 1, "Parameters": {"a": 1}, "Next": "E"},
            "E": {"Type": "Fail", "Error": "E"}
        }
    }))
    .expect("compiles");
    assert!(machine.root.states.iter().all(|s| !s.in_place));
}

#[test]
fn a_lent_input_is_the_execution_input_the_context_object_shows() {
    // The first state writes into the lent input (so copies it); `$$.Execution.Input`
    // still shows the input as it was given.
    let states = json!({
        "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.added", "Next": "B"},
        "B": {"Type": "Pass",
              "Parameters": {"given.$": "$$.Execution.Input", "now.$": "$"}, "End": true}
    });
    let input = json!({"id": 1});
    let outcome = same_both_ways(machine(states, "A"), input.clone());
    assert_eq!(
        outcome.output,
        Some(json!({"given": {"id": 1}, "now": {"id": 1, "added": 1}}))
    );
    assert_eq!(input, json!({"id": 1}));
}

#[test]
fn a_lent_input_reaches_states_that_do_not_step_in_place() {
    // InputPath sends the first state through the general flow, a Wait through
    // `run_state`; both get the lent input as a run on a copy does.
    let states = json!({
        "A": {"Type": "Pass", "InputPath": "$.inner", "ResultPath": "$.seen", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 1, "Next": "B"},
        "B": {"Type": "Pass", "End": true}
    });
    let compiled = Machine::compile(&machine(states.clone(), "A")).expect("compiles");
    let input = json!({"inner": {"k": "v"}});
    assert_eq!(
        execute(&compiled, &input, true),
        execute(&compiled, &input, false)
    );
    let waits_first = Machine::compile(&machine(states, "W")).expect("compiles");
    let (outcome, _) = execute(&waits_first, &input, true);
    assert_eq!(outcome.output, Some(input));
}

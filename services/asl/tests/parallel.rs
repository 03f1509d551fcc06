//! Parallel: branch outputs in order, a failing branch fails the state, Catch, Retry and
//! ResultSelector. AWS: "Parallel workflow state".

use crate::util::*;
use serde_json::{json, Value};

fn branch(states: Value, start: &str) -> Value {
    json!({"StartAt": start, "States": states})
}

fn parallel(branches: Vec<Value>, extra: Value) -> Value {
    let mut state = json!({"Type": "Parallel", "Branches": branches});
    for (k, v) in extra.as_object().unwrap() {
        state[k] = v.clone();
    }
    single(state)
}

/// A one-Pass branch; state names must be unique across the whole machine.
fn pass_branch(name: &str, result: Value) -> Value {
    branch(
        json!({name: {"Type": "Pass", "Result": result, "End": true}}),
        name,
    )
}

#[test]
fn outputs_are_in_branch_order() {
    // The slow first branch finishes last but still comes first.
    let slow = branch(
        json!({"W": {"Type": "Wait", "Seconds": 5, "Next": "P"},
                             "P": {"Type": "Pass", "Result": "slow", "End": true}}),
        "W",
    );
    let def = parallel(
        vec![
            slow,
            pass_branch("Fast", json!("fast")),
            pass_branch("Three", json!(3)),
        ],
        json!({}),
    );
    let ran = run(def, json!({}));
    assert_eq!(ran.output(), json!(["slow", "fast", 3]));
    assert_eq!(ran.elapsed_s(), 5.0);
}

#[test]
fn each_branch_gets_the_effective_input() {
    let echo = |name: &str| branch(json!({name: {"Type": "Pass", "End": true}}), name);
    let def = parallel(
        vec![echo("E1"), echo("E2")],
        json!({"Parameters": {"v.$": "$.x"}}),
    );
    run_ok(def, json!({"x": 1}), json!([{"v": 1}, {"v": 1}]));
}

#[test]
fn branches_run_concurrently() {
    let wait = |name: &str| {
        branch(
            json!({name: {"Type": "Wait", "Seconds": 10, "End": true}}),
            name,
        )
    };
    let ran = run(
        parallel(vec![wait("W1"), wait("W2"), wait("W3")], json!({})),
        json!({}),
    );
    assert_eq!(ran.elapsed_s(), 10.0);
}

#[test]
fn a_failing_branch_fails_the_state() {
    let failing = branch(
        json!({"F": {"Type": "Fail", "Error": "BranchError", "Cause": "bad"}}),
        "F",
    );
    let ran = run(
        parallel(vec![pass_branch("One", json!(1)), failing], json!({})),
        json!({}),
    );
    assert_eq!((ran.error(), ran.cause()), ("BranchError", "bad"));
}

#[test]
fn a_failing_branch_is_caught() {
    let failing = branch(
        json!({"F": {"Type": "Fail", "Error": "BranchError", "Cause": "bad"}}),
        "F",
    );
    let def = json!({"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Branches": [pass_branch("One", json!(1)), failing],
                "Catch": [{"ErrorEquals": ["BranchError"], "ResultPath": "$.err", "Next": "After"}],
                "End": true},
        "After": {"Type": "Pass", "End": true}
    }});
    run_ok(
        def,
        json!({"in": 1}),
        json!({"in": 1, "err": {"Error": "BranchError", "Cause": "bad"}}),
    );
}

#[test]
fn parallel_is_retried() {
    let task = branch(
        json!({"T": {"Type": "Task", "Resource": "arn:aws:states:::test:run", "End": true}}),
        "T",
    );
    let def = parallel(
        vec![task],
        json!({"Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2, "IntervalSeconds": 1}]}),
    );
    let ran = run_script(def, json!({}), |c| {
        if c.index < 2 {
            fail("E", "")
        } else {
            ok(json!("done"))
        }
    });
    assert_eq!(ran.calls.len(), 3);
    assert_eq!(ran.output(), json!(["done"]));
}

#[test]
fn result_selector_result_path_output_path() {
    let def = parallel(
        vec![
            pass_branch("A", json!({"a": 1})),
            pass_branch("B", json!({"b": 2})),
        ],
        json!({"ResultSelector": {"first.$": "$[0].a", "second.$": "$[1].b"},
               "ResultPath": "$.r", "OutputPath": "$.r"}),
    );
    run_ok(def, json!({}), json!({"first": 1, "second": 2}));
}

#[test]
fn branch_context_is_its_own_state() {
    let named = branch(
        json!({"Inner": {"Type": "Pass", "Parameters": {"n.$": "$$.State.Name"}, "End": true}}),
        "Inner",
    );
    run_ok(
        parallel(vec![named], json!({})),
        json!({}),
        json!([{"n": "Inner"}]),
    );
}

//! JSONata states: data flow, variables (scoping and evaluation order), mixing with
//! JSONPath, Step Functions' functions, limits, and every error path.

use crate::util::{run_err, run_ok, run_with, Function, START_MS};
use asl::history::{HistoryEventType, Recorder};
use asl::interpret::{SplitMix64, VirtualClock};
use asl::validate::MachineType;
use asl::{ExecutionInfo, Machine, Outcome, Services};
use serde_json::{json, Value};

/// A JSONata machine from its states, starting at the first.
fn machine(start: &str, states: Value) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": start, "States": states})
}

fn run(definition: Value, input: Value) -> Outcome {
    run_with(&definition, input, identity(), MachineType::Express).expect("runs")
}

fn identity() -> Vec<Function> {
    vec![Function {
        arn: "arn:aws:lambda:us-east-1:111111111111:function:echo".into(),
        behaviour: json!({"behaviour": "identity"}),
    }]
}

const ECHO: &str = "arn:aws:lambda:us-east-1:111111111111:function:echo";

/// Runs with the echo function and expects success with `output`.
fn ok_with_echo(definition: Value, input: Value, output: Value) {
    let outcome = run(definition, input);
    assert_eq!(outcome.output, Some(output), "{outcome:?}");
}

fn failed_with(outcome: &Outcome, error: &str, cause: &str) {
    assert_eq!(outcome.error.as_deref(), Some(error), "{outcome:?}");
    assert_eq!(outcome.cause.as_deref(), Some(cause), "{outcome:?}");
}

// ── data flow ────────────────────────────────────────────────────────────────

#[test]
fn output_defaults_to_input_and_expressions_nest_anywhere() {
    run_ok(
        machine("A", json!({"A": {"Type": "Pass", "End": true}})),
        json!({"a": 1}),
        json!({"a": 1}),
    );
    run_ok(
        machine(
            "A",
            json!({"A": {"Type": "Pass", "Output": {"x": [1, {"y": "{% $states.input.a * 2 %}"}], "lit": " {% not me %} "}, "End": true}}),
        ),
        json!({"a": 2}),
        json!({"x": [1, {"y": 4}], "lit": " {% not me %} "}),
    );
}

#[test]
fn integral_numbers_render_without_fraction() {
    let outcome = run(
        machine(
            "A",
            json!({"A": {"Type": "Pass", "Output": "{% 6 / 2 %}", "End": true}}),
        ),
        json!({}),
    );
    assert_eq!(outcome.output.unwrap().to_string(), "3");
}

#[test]
fn task_arguments_result_and_output() {
    ok_with_echo(
        machine(
            "T",
            json!({"T": {"Type": "Task", "Resource": ECHO,
                "Arguments": {"n": "{% $states.input.n + 1 %}"},
                "Output": {"in": "{% $states.input.n %}", "out": "{% $states.result.n %}"},
                "TimeoutSeconds": "{% 10 %}", "HeartbeatSeconds": "{% 5 %}",
                "End": true}}),
        ),
        json!({"n": 1}),
        json!({"in": 1, "out": 2}),
    );
    // Without Output, a Task's output is its result.
    let outcome = run(
        machine(
            "T",
            json!({"T": {"Type": "Task", "Resource": ECHO, "Arguments": {"k": "v"}, "End": true}}),
        ),
        json!({"ignored": true}),
    );
    assert_eq!(outcome.output, Some(json!({"k": "v"})));
}

#[test]
fn context_is_bound() {
    let outcome = run(
        machine(
            "A",
            json!({"A": {"Type": "Pass", "Output": "{% $states.context.State.Name %}", "End": true}}),
        ),
        json!({}),
    );
    assert_eq!(outcome.output, Some(json!("A")));
}

#[test]
fn map_items_item_selector_and_counts() {
    run_ok(
        machine(
            "M",
            json!({"M": {"Type": "Map", "Items": "{% $states.input.xs %}",
                "ItemSelector": {"v": "{% $states.context.Map.Item.Value * 10 %}", "i": "{% $states.context.Map.Item.Index %}"},
                "MaxConcurrency": "{% 2 %}", "ToleratedFailureCount": "{% 0 %}",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                "Output": "{% $states.result.v %}", "End": true}}),
        ),
        json!({"xs": [1, 2]}),
        json!([10, 20]),
    );
}

#[test]
fn wait_and_fail_take_expressions() {
    let outcome = run(
        machine(
            "W",
            json!({"W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "F"},
                   "F": {"Type": "Fail", "Error": "{% 'E.' & $states.input.s %}", "Cause": "{% 'waited' %}"}}),
        ),
        json!({"s": 3}),
    );
    failed_with(&outcome, "E.3", "waited");
    assert_eq!(outcome.stop_ms - outcome.start_ms, 3000);
}

// ── variables ────────────────────────────────────────────────────────────────

#[test]
fn assign_and_output_see_the_variables_from_before_the_state() {
    run_ok(
        machine(
            "A",
            json!({
                "A": {"Type": "Pass", "Assign": {"x": 1, "y": 10}, "Next": "B"},
                "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "old": "{% $x %}", "y": "{% $x %}"},
                      "Output": {"x": "{% $x %}"}, "Next": "C"},
                "C": {"Type": "Pass", "Output": {"x": "{% $x %}", "old": "{% $old %}", "y": "{% $y %}"}, "End": true}
            }),
        ),
        json!({}),
        json!({"x": 2, "old": 1, "y": 1}),
    );
}

#[test]
fn task_assign_sees_result_and_prior_variables() {
    ok_with_echo(
        machine(
            "A",
            json!({
                "A": {"Type": "Pass", "Assign": {"n": 1}, "Next": "T"},
                "T": {"Type": "Task", "Resource": ECHO, "Arguments": {"n": 5},
                      "Assign": {"n": "{% $states.result.n + $n %}"}, "Output": "{% $n %}", "Next": "C"},
                "C": {"Type": "Pass", "Output": {"before": "{% $states.input %}", "after": "{% $n %}"}, "End": true}
            }),
        ),
        json!({}),
        json!({"before": 1, "after": 6}),
    );
}

#[test]
fn map_and_parallel_read_outer_variables_and_keep_their_own() {
    run_ok(
        machine(
            "A",
            json!({
                "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
                "M": {"Type": "Map", "Items": [1, 2],
                      "ItemProcessor": {"StartAt": "I", "States": {
                          "I": {"Type": "Pass", "Assign": {"x": "{% $x + $states.input %}"}, "Next": "J"},
                          "J": {"Type": "Pass", "Output": "{% $x %}", "End": true}}},
                      "Next": "P"},
                "P": {"Type": "Parallel", "Branches": [
                          {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"x": 100}, "Output": "{% $x %}", "End": true}}}],
                      "Output": {"map": "{% $states.input %}", "parallel": "{% $states.result %}"}, "Next": "Z"},
                "Z": {"Type": "Pass", "Output": {"flow": "{% $states.input %}", "x": "{% $x %}"}, "End": true}
            }),
        ),
        json!({}),
        json!({"flow": {"map": [2, 3], "parallel": [1]}, "x": 1}),
    );
}

#[test]
fn choice_rule_and_state_assign_and_output() {
    let definition = machine(
        "C",
        json!({
            "C": {"Type": "Choice", "Assign": {"s": "state", "r": "state"},
                  "Choices": [{"Condition": "{% $states.input.go %}", "Assign": {"r": "rule"},
                               "Output": {"took": "rule"}, "Next": "D"}],
                  "Default": "D"},
            "D": {"Type": "Pass", "Output": {"in": "{% $states.input %}", "s": "{% $s %}", "r": "{% $r %}"}, "End": true}
        }),
    );
    run_ok(
        definition.clone(),
        json!({"go": true}),
        json!({"in": {"took": "rule"}, "s": "state", "r": "rule"}),
    );
    run_ok(
        definition,
        json!({"go": false}),
        json!({"in": {"go": false}, "s": "state", "r": "state"}),
    );
}

#[test]
fn catch_output_and_assign_see_the_error_output() {
    let definition = machine(
        "T",
        json!({
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:missing",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"e": "{% $states.errorOutput.Error %}"},
                             "Output": {"in": "{% $states.input %}", "err": "{% $states.errorOutput.Error %}"}, "Next": "Z"}],
                  "End": true},
            "Z": {"Type": "Pass", "Output": {"out": "{% $states.input %}", "e": "{% $e %}"}, "End": true}
        }),
    );
    run_ok(
        definition,
        json!({"a": 1}),
        json!({"out": {"in": {"a": 1}, "err": "Lambda.ResourceNotFoundException"}, "e": "Lambda.ResourceNotFoundException"}),
    );
}

#[test]
fn jsonpath_and_jsonata_states_share_variables() {
    run_ok(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Assign": {"v.$": "$.a"}, "Next": "J"},
            "J": {"QueryLanguage": "JSONata", "Type": "Pass", "Assign": {"w": "{% $v * 2 %}"}, "Next": "Q"},
            "Q": {"Type": "Pass", "Parameters": {"v.$": "$v", "w.$": "$w"}, "End": true}}}),
        json!({"a": 2}),
        json!({"v": 2, "w": 4}),
    );
}

#[test]
fn mixing_rules_are_enforced() {
    for (state, why) in [
        (
            json!({"Type": "Pass", "InputPath": "$", "End": true}),
            "InputPath",
        ),
        (
            json!({"Type": "Pass", "Parameters": {}, "End": true}),
            "Parameters",
        ),
        (
            json!({"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}),
            "downgrade",
        ),
    ] {
        let refused =
            Machine::from_definition(&machine("A", json!({"A": state})), MachineType::Express);
        assert!(refused.is_err(), "{why} must be refused");
    }
    // A JSONPath state may not use JSONata fields.
    let refused = Machine::from_definition(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% 1 %}", "End": true}}}),
        MachineType::Express,
    );
    assert!(refused.is_err());
}

// ── functions ────────────────────────────────────────────────────────────────

#[test]
fn step_functions_functions_and_engine_randomness() {
    let definition = machine(
        "A",
        json!({"A": {"Type": "Pass", "Output": {
            "p": "{% $partition([1,2,3], 2) %}", "r": "{% $range(1, 5, 2) %}",
            "h": "{% $hash('input data', 'MD5') %}", "j": "{% $parse('{\"a\":1}') %}",
            "u": "{% $uuid() %}", "x": "{% $random() %}"}, "End": true}}),
    );
    let first = run(definition.clone(), json!({})).output.unwrap();
    assert_eq!(first["p"], json!([[1, 2], [3]]));
    assert_eq!(first["r"], json!([1, 3, 5]));
    assert_eq!(first["h"], json!("812f45842bc6d66ee14572ce20db8e86"));
    assert_eq!(first["j"], json!({"a": 1}));
    assert_eq!(first["u"].as_str().unwrap().len(), 36);
    // The engine's seeded Rng drives them: the same seed, the same values.
    assert_eq!(run(definition, json!({})).output.unwrap(), first);
}

// ── errors ───────────────────────────────────────────────────────────────────

#[test]
fn undefined_result_is_an_error() {
    failed_with(
        &run(
            machine(
                "A",
                json!({"A": {"Type": "Pass", "Output": {"a": "{% $nope %}"}, "End": true}}),
            ),
            json!({}),
        ),
        "States.QueryEvaluationError",
        "An error occurred while executing the state 'A' (entered at the event id #2). The JSONata expression '$nope' specified for the field 'Output/a' returned nothing (undefined).",
    );
}

#[test]
fn evaluation_errors_name_the_code() {
    failed_with(
        &run(
            machine(
                "A",
                json!({"A": {"Type": "Pass", "Assign": {"a": "{% $eval('1') %}"}, "End": true}}),
            ),
            json!({}),
        ),
        "States.QueryEvaluationError",
        "An error occurred while executing the state 'A' (entered at the event id #2). The JSONata expression '$eval('1')' specified for the field 'Assign/a' threw an error during evaluation. T1006: Attempted to invoke a non-function",
    );
    let outcome = run(
        machine(
            "A",
            json!({"A": {"Type": "Pass", "Output": "{% $number('x') %}", "End": true}}),
        ),
        json!({}),
    );
    assert!(outcome
        .cause
        .unwrap()
        .contains("threw an error during evaluation. D3030"));
}

#[test]
fn wrong_types_are_errors() {
    let cases = [
        (
            json!({"Type": "Map", "Items": "{% 1 %}", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}),
            "The JSONata expression '1' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'number' for value: 1",
        ),
        (
            json!({"Type": "Choice", "Choices": [{"Condition": "{% 'yes' %}", "Next": "Z"}]}),
            "The JSONata expression ''yes'' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was 'string' for value: \"yes\"",
        ),
        (
            json!({"Type": "Fail", "Error": "{% 1 %}"}),
            "The JSONata expression '1' specified for the field 'Error' returned an unexpected result type. Expected 'string', but was 'number' for value: 1",
        ),
        (
            json!({"Type": "Pass", "Output": "{% function($x){$x} %}", "End": true}),
            "The JSONata expression 'function($x){$x}' specified for the field 'Output' returned an unsupported result type.",
        ),
    ];
    for (state, detail) in cases {
        let mut states = json!({"A": state});
        if states["A"]["Type"] == "Choice" {
            states["Z"] = json!({"Type": "Succeed"});
        }
        let outcome = run(machine("A", states), json!({}));
        failed_with(
            &outcome,
            "States.QueryEvaluationError",
            &format!("An error occurred while executing the state 'A' (entered at the event id #2). {detail}"),
        );
    }
    failed_with(
        &run(
            machine(
                "A",
                json!({"A": {"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}),
            ),
            json!({"not": "an array"}),
        ),
        "States.QueryEvaluationError",
        "An error occurred while executing the state 'A' (entered at the event id #2). Map state input must be an array but was: {\"not\":\"an array\"}",
    );
}

#[test]
fn query_evaluation_errors_can_be_caught() {
    run_ok(
        machine(
            "A",
            json!({
                "A": {"Type": "Parallel",
                      "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": "{% $nope %}", "End": true}}}],
                      "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Output": "{% $states.errorOutput.Error %}", "Next": "Z"}],
                      "End": true},
                "Z": {"Type": "Pass", "End": true}
            }),
        ),
        json!({}),
        json!("States.QueryEvaluationError"),
    );
}

#[test]
fn runaway_expressions_fail_the_state_not_the_worker() {
    for expression in [
        "{% ($f := function($n){$n = 0 ? 0 : 1 + $f($n - 1)}; $f(1000000)) %}",
        "{% ($f := function(){$f()}; $f()) %}",
        "{% $count([1..10000000]) %}",
    ] {
        let outcome = run(
            machine(
                "A",
                json!({"A": {"Type": "Pass", "Output": expression, "End": true}}),
            ),
            json!({}),
        );
        assert_eq!(
            outcome.error.as_deref(),
            Some("States.QueryEvaluationError"),
            "{expression}: {outcome:?}"
        );
    }
}

#[test]
fn assignments_over_256_kib_fail() {
    run_err(
        machine(
            "A",
            json!({"A": {"Type": "Pass", "Assign": {"big": "{% $pad('', 270000, 'x') %}"}, "End": true}}),
        ),
        json!({}),
        "States.Runtime",
    );
}

#[test]
fn evaluation_failed_is_in_the_history() {
    let definition = machine(
        "A",
        json!({"A": {"Type": "Pass", "Output": "{% $nope %}", "End": true}}),
    );
    let machine = Machine::from_definition(&definition, MachineType::Express).expect("valid");
    let clock = VirtualClock::new(START_MS);
    let recorder = Recorder::default();
    let lambdas = crate::util::Lambdas {
        functions: Vec::new(),
        clock: clock.clone(),
    };
    let rng = SplitMix64::new(1);
    let services = Services {
        tasks: &lambdas,
        clock: &clock,
        rng: &rng,
        tokens: &asl::interpret::CountingTokens::default(),
        history: Some(&recorder),
    };
    clock
        .block_on(machine.run(json!({}), &ExecutionInfo::default(), &services))
        .expect("ends");
    let events = recorder.events();
    let failed = events
        .iter()
        .find(|e| e.event_type == HistoryEventType::EvaluationFailed)
        .expect("an EvaluationFailed event");
    assert_eq!(failed.details["state"], json!("A"));
    assert_eq!(failed.details["location"], json!("Output"));
    assert_eq!(
        failed.details["error"],
        json!("States.QueryEvaluationError")
    );
    let last: &Value = &events.last().unwrap().details;
    assert_eq!(last["error"], json!("States.QueryEvaluationError"));
}

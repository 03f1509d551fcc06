//! Workflow variables with JSONPath `Assign`: later states read them, assignments in one
//! state all read the old values, Map and Parallel scopes read outward but do not leak.
//! AWS: "Passing data between states with variables".

use crate::util::*;
use serde_json::json;

#[test]
fn assigned_values_are_visible_later() {
    let def = chain(&[
        (
            "Set",
            json!({"Type": "Pass", "Assign": {"x": 1, "y.$": "$.in", "z": {"deep": [true]}}}),
        ),
        ("Mid", json!({"Type": "Pass", "Result": "ignored"})),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"x.$": "$x", "y.$": "$y", "d.$": "$z.deep[0]"}}),
        ),
    ]);
    run_ok(
        def,
        json!({"in": "v"}),
        json!({"x": 1, "y": "v", "d": true}),
    );
}

#[test]
fn assignments_do_not_change_the_output() {
    let def = single(json!({"Type": "Pass", "Assign": {"x": 1}}));
    run_ok(def, json!({"in": 1}), json!({"in": 1}));
}

#[test]
fn assign_reads_old_values_so_a_swap_works() {
    let def = chain(&[
        ("Init", json!({"Type": "Pass", "Assign": {"a": 1, "b": 2}})),
        (
            "Swap",
            json!({"Type": "Pass", "Assign": {"a.$": "$b", "b.$": "$a"}}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"a.$": "$a", "b.$": "$b"}}),
        ),
    ]);
    run_ok(def, json!({}), json!({"a": 2, "b": 1}));
}

#[test]
fn reassignment_replaces_the_value() {
    let def = chain(&[
        ("One", json!({"Type": "Pass", "Assign": {"n": 1}})),
        ("Two", json!({"Type": "Pass", "Assign": {"n": 2}})),
        ("Read", json!({"Type": "Pass", "Parameters": {"n.$": "$n"}})),
    ]);
    run_ok(def, json!({}), json!({"n": 2}));
}

#[test]
fn assign_with_intrinsic() {
    let def = chain(&[
        (
            "Set",
            json!({"Type": "Pass", "Assign": {"s.$": "States.Format('n={}', $.n)"}}),
        ),
        ("Read", json!({"Type": "Pass", "Parameters": {"s.$": "$s"}})),
    ]);
    run_ok(def, json!({"n": 3}), json!({"s": "n=3"}));
}

#[test]
fn task_assign_reads_the_result() {
    let def = chain(&[
        (
            "T",
            json!({"Type": "Task", "Resource": "arn:aws:states:::test:run",
                     "Assign": {"got.$": "$.value"}, "ResultPath": null}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"got.$": "$got"}}),
        ),
    ]);
    let ran = run_script(def, json!({}), |_| ok(json!({"value": 42})));
    assert_eq!(ran.output(), json!({"got": 42}));
}

#[test]
fn catch_assign_reads_the_error_output() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::test:run",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error"}, "Next": "Read"}],
              "End": true},
        "Read": {"Type": "Pass", "Parameters": {"err.$": "$err"}, "End": true}
    }});
    let ran = run_script(def, json!({}), |_| fail("Oops", "c"));
    assert_eq!(ran.output(), json!({"err": "Oops"}));
}

#[test]
fn map_iterations_read_outer_variables_and_do_not_leak() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"x": 5}})),
        (
            "M",
            json!({"Type": "Map", "ResultPath": "$.mapped", "ItemsPath": "$.items",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "In", "States": {
                "In": {"Type": "Pass", "Assign": {"x": 99}, "Parameters": {"outer.$": "$x"}, "Next": "In2"},
                "In2": {"Type": "Pass", "Parameters": {"inner.$": "$x", "outer.$": "$.outer"}, "End": true}
            }}}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"x.$": "$x", "mapped.$": "$.mapped"}}),
        ),
    ]);
    run_ok(
        def,
        json!({"items": [1, 2]}),
        json!({"x": 5, "mapped": [{"inner": 99, "outer": 5}, {"inner": 99, "outer": 5}]}),
    );
}

#[test]
fn parallel_branches_read_outer_variables_and_do_not_leak() {
    let def = chain(&[
        ("Set", json!({"Type": "Pass", "Assign": {"x": "outer"}})),
        (
            "Par",
            json!({"Type": "Parallel", "ResultPath": "$.branches", "Branches": [
                {"StartAt": "B1", "States": {
                    "B1": {"Type": "Pass", "Parameters": {"saw.$": "$x"}, "Assign": {"x": "inner"}, "Next": "B2"},
                    "B2": {"Type": "Pass", "Parameters": {"now.$": "$x"}, "End": true}}},
                {"StartAt": "C1", "States": {
                    "C1": {"Type": "Pass", "Parameters": {"saw.$": "$x"}, "End": true}}}
            ]}),
        ),
        (
            "Read",
            json!({"Type": "Pass", "Parameters": {"x.$": "$x", "b.$": "$.branches"}}),
        ),
    ]);
    run_ok(
        def,
        json!({}),
        json!({"x": "outer", "b": [{"now": "inner"}, {"saw": "outer"}]}),
    );
}

#[test]
fn undefined_variable_is_runtime_error() {
    // `$v` is assigned only when `set` is true.
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.set", "BooleanEquals": true, "Next": "Set"}
        ], "Default": "Read"},
        "Set": {"Type": "Pass", "Assign": {"v": 1}, "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"v.$": "$v"}, "End": true}
    }});
    run_ok(def.clone(), json!({"set": true}), json!({"v": 1}));
    let ran = run(def, json!({"set": false}));
    assert_eq!(ran.error(), "States.Runtime");
    assert!(ran.cause().contains("'v'"), "{}", ran.cause());
}

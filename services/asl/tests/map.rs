//! Map: ItemsPath, ItemSelector with `$$.Map.Item`, legacy Parameters/Iterator,
//! MaxConcurrency(Path), failures, distributed-mode tolerance and ItemBatcher.
//! AWS: "Map workflow state", "Distributed Map", "Setting failure thresholds for
//! Distributed Map states", "ItemBatcher".

use crate::util::*;
use serde_json::{json, Value};

fn processor(states: Value, start: &str, mode: &str) -> Value {
    let mut config = json!({"Mode": mode});
    if mode == "DISTRIBUTED" {
        config["ExecutionType"] = json!("EXPRESS");
    }
    json!({"ProcessorConfig": config, "StartAt": start, "States": states})
}

fn echo() -> Value {
    processor(json!({"P": {"Type": "Pass", "End": true}}), "P", "INLINE")
}

fn map(extra: Value) -> Value {
    let mut state = json!({"Type": "Map"});
    for (k, v) in extra.as_object().unwrap() {
        state[k] = v.clone();
    }
    if state.get("ItemProcessor").is_none() && state.get("Iterator").is_none() {
        state["ItemProcessor"] = echo();
    }
    single(state)
}

/// Items "ok…" pass; items "bad…" fail with `ItemError`.
fn picky(mode: &str) -> Value {
    processor(
        json!({
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$", "StringMatches": "bad*", "Next": "F"}
            ], "Default": "P"},
            "F": {"Type": "Fail", "Error": "ItemError", "Cause": "bad item"},
            "P": {"Type": "Pass", "End": true}
        }),
        "C",
        mode,
    )
}

fn waits(seconds: u64) -> Value {
    processor(
        json!({"W": {"Type": "Wait", "Seconds": seconds, "End": true}}),
        "W",
        "INLINE",
    )
}

#[test]
fn whole_input_array() {
    run_ok(map(json!({})), json!([1, 2, 3]), json!([1, 2, 3]));
}

#[test]
fn items_path() {
    run_ok(
        map(json!({"ItemsPath": "$.items"})),
        json!({"items": ["a", "b"], "x": 1}),
        json!(["a", "b"]),
    );
}

#[test]
fn empty_array() {
    run_ok(
        map(json!({"ItemsPath": "$.items"})),
        json!({"items": []}),
        json!([]),
    );
}

#[test]
fn items_path_not_an_array() {
    run_err(
        map(json!({"ItemsPath": "$.items"})),
        json!({"items": {"a": 1}}),
        "States.Runtime",
    );
}

#[test]
fn items_path_missing() {
    run_err(
        map(json!({"ItemsPath": "$.items"})),
        json!({}),
        "States.Runtime",
    );
}

#[test]
fn item_selector_with_map_item_context() {
    run_ok(
        map(json!({"ItemsPath": "$.items", "ItemSelector": {
            "index.$": "$$.Map.Item.Index",
            "value.$": "$$.Map.Item.Value",
            "shared.$": "$.k"
        }})),
        json!({"items": ["a", "b"], "k": 9}),
        json!([{"index": 0, "value": "a", "shared": 9}, {"index": 1, "value": "b", "shared": 9}]),
    );
}

#[test]
fn legacy_parameters_and_iterator() {
    let iterator = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    run_ok(
        map(json!({"ItemsPath": "$.items", "Iterator": iterator,
                   "Parameters": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}})),
        json!({"items": [10, 20]}),
        json!([{"v": 10, "i": 0}, {"v": 20, "i": 1}]),
    );
}

#[test]
fn result_path_and_result_selector() {
    run_ok(
        map(
            json!({"ItemsPath": "$.items", "ResultSelector": {"all.$": "$"}, "ResultPath": "$.out"}),
        ),
        json!({"items": [1]}),
        json!({"items": [1], "out": {"all": [1]}}),
    );
}

#[test]
fn max_concurrency_one_runs_serially() {
    let ran = run(
        map(json!({"MaxConcurrency": 1, "ItemProcessor": waits(10)})),
        json!([1, 2, 3]),
    );
    assert_eq!(ran.output(), json!([1, 2, 3]));
    assert_eq!(ran.elapsed_s(), 30.0);
}

#[test]
fn max_concurrency_zero_is_unlimited() {
    let ran = run(
        map(json!({"MaxConcurrency": 0, "ItemProcessor": waits(10)})),
        json!([1, 2, 3, 4]),
    );
    assert_eq!(ran.elapsed_s(), 10.0);
}

#[test]
fn max_concurrency_path() {
    let ran = run(
        map(
            json!({"ItemsPath": "$.items", "MaxConcurrencyPath": "$.mc", "ItemProcessor": waits(10)}),
        ),
        json!({"items": [1, 2, 3], "mc": 2}),
    );
    assert_eq!(ran.output(), json!([1, 2, 3]));
    assert_eq!(ran.elapsed_s(), 20.0);
}

#[test]
fn max_concurrency_path_not_an_integer() {
    run_err(
        map(json!({"MaxConcurrencyPath": "$.mc", "ItemsPath": "$.items"})),
        json!({"items": [1], "mc": "lots"}),
        "States.Runtime",
    );
}

#[test]
fn item_failure_fails_the_map() {
    let ran = run(
        map(json!({"ItemProcessor": picky("INLINE")})),
        json!(["ok1", "bad", "ok2"]),
    );
    assert_eq!((ran.error(), ran.cause()), ("ItemError", "bad item"));
}

#[test]
fn item_failure_is_caught() {
    let def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemProcessor": picky("INLINE"),
              "Catch": [{"ErrorEquals": ["ItemError"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Pass", "End": true}
    }});
    run_ok(
        def,
        json!(["bad"]),
        json!({"Error": "ItemError", "Cause": "bad item"}),
    );
}

#[test]
fn iterations_read_outer_input_only_through_selector() {
    // Without ItemSelector each iteration sees only its item.
    run_ok(
        map(json!({"ItemsPath": "$.items"})),
        json!({"items": [{"a": 1}], "b": 2}),
        json!([{"a": 1}]),
    );
}

fn distributed(extra: Value) -> Value {
    let mut extra = extra;
    extra["ItemProcessor"] = picky("DISTRIBUTED");
    map(extra)
}

#[test]
fn distributed_without_tolerance_fails_on_one_failure() {
    run_err(
        distributed(json!({})),
        json!(["ok", "bad"]),
        "States.ExceedToleratedFailureThreshold",
    );
}

#[test]
fn distributed_succeeds_without_failures() {
    let ran = run(distributed(json!({})), json!(["ok1", "ok2"]));
    assert_eq!(ran.output(), json!(["ok1", "ok2"]));
}

#[test]
fn tolerated_failure_count() {
    let items = json!(["ok", "bad1", "bad2", "ok"]);
    let ran = run(
        distributed(json!({"ToleratedFailureCount": 2})),
        items.clone(),
    );
    assert_eq!(ran.outcome.status, asl::Status::Succeeded);
    run_err(
        distributed(json!({"ToleratedFailureCount": 1})),
        items,
        "States.ExceedToleratedFailureThreshold",
    );
}

#[test]
fn tolerated_failure_percentage() {
    let items = json!(["ok", "bad1", "bad2", "ok"]);
    let ran = run(
        distributed(json!({"ToleratedFailurePercentage": 50})),
        items.clone(),
    );
    assert_eq!(ran.outcome.status, asl::Status::Succeeded);
    run_err(
        distributed(json!({"ToleratedFailurePercentage": 25})),
        items,
        "States.ExceedToleratedFailureThreshold",
    );
}

#[test]
fn tolerated_failure_count_path() {
    let ran = run(
        distributed(json!({"ItemsPath": "$.items", "ToleratedFailureCountPath": "$.tol"})),
        json!({"items": ["bad", "ok"], "tol": 1}),
    );
    assert_eq!(ran.outcome.status, asl::Status::Succeeded);
}

#[test]
fn exceeded_threshold_is_catchable() {
    let def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemProcessor": picky("DISTRIBUTED"),
              "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Caught"}],
              "End": true},
        "Caught": {"Type": "Pass", "Result": "caught", "End": true}
    }});
    run_ok(def, json!(["bad"]), json!("caught"));
}

#[test]
fn item_batcher_groups_items() {
    let def = map(json!({
        "ItemProcessor": processor(json!({"P": {"Type": "Pass", "End": true}}), "P", "DISTRIBUTED"),
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"tag": "t"}}
    }));
    run_ok(
        def,
        json!([1, 2, 3, 4, 5]),
        json!([
            {"BatchInput": {"tag": "t"}, "Items": [1, 2]},
            {"BatchInput": {"tag": "t"}, "Items": [3, 4]},
            {"BatchInput": {"tag": "t"}, "Items": [5]}
        ]),
    );
}

#[test]
fn item_batcher_max_items_path() {
    let def = map(json!({
        "ItemsPath": "$.items",
        "ItemProcessor": processor(json!({"P": {"Type": "Pass", "End": true}}), "P", "DISTRIBUTED"),
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}
    }));
    run_ok(
        def,
        json!({"items": [1, 2, 3], "n": 3}),
        json!([{"Items": [1, 2, 3]}]),
    );
}

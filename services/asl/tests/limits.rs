//! Service limits: 262,144-byte payloads, the execution's TimeoutSeconds and the Express
//! five-minute limit. AWS: "Step Functions service quotas", "States.DataLimitExceeded"
//! (Handling errors), "Standard vs. Express workflows".

use crate::util::*;
use serde_json::json;

const LIMIT: usize = 262_144;

#[test]
fn pass_result_over_the_limit() {
    let big = "a".repeat(LIMIT);
    run_err(
        single(json!({"Type": "Pass", "Result": big})),
        json!({}),
        "States.DataLimitExceeded",
    );
}

#[test]
fn pass_result_just_under_the_limit() {
    // A JSON string of LIMIT - 2 characters serializes to exactly LIMIT bytes.
    let fits = "a".repeat(LIMIT - 2);
    let ran = run(
        single(json!({"Type": "Pass", "Result": fits, "ResultPath": null})),
        json!({}),
    );
    assert_eq!(ran.outcome.status, asl::Status::Succeeded);
}

#[test]
fn execution_input_over_the_limit() {
    run_err(
        single(json!({"Type": "Pass"})),
        json!({"big": "a".repeat(LIMIT)}),
        "States.DataLimitExceeded",
    );
}

#[test]
fn task_result_over_the_limit() {
    let def = single(json!({"Type": "Task", "Resource": "arn:aws:states:::test:run"}));
    let ran = run_script(def, json!({}), |_| ok(json!("b".repeat(LIMIT + 1))));
    assert_eq!(ran.error(), "States.DataLimitExceeded");
}

#[test]
fn top_level_timeout_seconds() {
    let def = json!({"StartAt": "W", "TimeoutSeconds": 10, "States": {
        "W": {"Type": "Wait", "Seconds": 20, "End": true}
    }});
    let ran = run(def, json!({}));
    assert_eq!(ran.outcome.status, asl::Status::TimedOut);
    assert_eq!(ran.elapsed_s(), 10.0);
    assert_eq!(ran.outcome.error, None);
}

#[test]
fn top_level_timeout_not_reached() {
    let def = json!({"StartAt": "W", "TimeoutSeconds": 30, "States": {
        "W": {"Type": "Wait", "Seconds": 20, "End": true}
    }});
    let ran = run(def, json!({}));
    assert_eq!(ran.outcome.status, asl::Status::Succeeded);
}

#[test]
fn express_executions_stop_at_five_minutes() {
    let def = single(json!({"Type": "Wait", "Seconds": 400}));
    let ran = run(def, json!({}));
    assert_eq!(ran.outcome.status, asl::Status::TimedOut);
    assert_eq!(ran.elapsed_s(), 300.0);
    assert_eq!(ran.types().last(), Some(&"ExecutionTimedOut"));
}

#[test]
fn timed_out_task_times_out_the_execution() {
    let def = json!({"StartAt": "T", "TimeoutSeconds": 5, "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::test:run", "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Never"}]},
        "Never": {"Type": "Pass", "End": true}
    }});
    let ran = run_script(def, json!({}), |_| after(60.0, ok(json!(1))));
    assert_eq!(ran.outcome.status, asl::Status::TimedOut);
}

#[test]
fn task_input_over_the_limit_after_parameters() {
    // AWS (Handling errors, States.DataLimitExceeded): reported when "the input of a state
    // is larger than the payload size quota after Parameters processing".
    let def = single(
        json!({"Type": "Task", "Resource": "arn:aws:states:::test:run",
        "Parameters": {"a.$": "$.s", "b.$": "$.s"}}),
    );
    let ran = run_script(def, json!({"s": "x".repeat(200_000)}), |_| ok(json!(1)));
    assert_eq!(ran.error(), "States.DataLimitExceeded");
    assert!(ran.calls.is_empty());
}

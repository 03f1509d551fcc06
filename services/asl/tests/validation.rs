//! Runs `asl::validate` over the definitions AWS judged (`<workspace>/../shared/conformance/validation`)
//! and compares with AWS's answers: the CreateStateMachine `InvalidDefinition` message, or the
//! ValidateStateMachineDefinition result and diagnostics (errors only: AWS's default severity).

use asl::validate::{
    aws_message, has_errors, validate_for, validate_text_for, Diagnostic, MachineType, Severity,
};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Cases known to pass; raise it when more do.
const PASSING_AT_LEAST: usize = 20;

fn corpus_dir() -> PathBuf {
    crate::util::shared_dir().join("conformance/validation")
}

fn diagnostic_json(d: &Diagnostic) -> Value {
    let mut v =
        json!({"severity": d.severity.as_str(), "code": d.code.as_str(), "message": d.message});
    if !d.location.is_empty() {
        v["location"] = json!(d.location);
    }
    v
}

/// What we answer, in the shape of `expected`.
fn answer(case: &Value) -> Value {
    let machine_type = match case["type"].as_str() {
        Some("EXPRESS") => MachineType::Express,
        _ => MachineType::Standard,
    };
    let diags = if case["definition_is_raw_text"].as_bool() == Some(true) {
        validate_text_for(
            case["definition"].as_str().unwrap_or_default(),
            machine_type,
        )
    } else {
        validate_for(&case["definition"], machine_type)
    };
    let errors: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if case["operation"] == "CreateStateMachine" {
        if has_errors(&diags) {
            json!({"error_code": "InvalidDefinition", "message": aws_message(&diags)})
        } else {
            json!({"created": true})
        }
    } else {
        json!({
            "result": if errors.is_empty() { "OK" } else { "FAIL" },
            "diagnostics": errors.iter().map(|d| diagnostic_json(d)).collect::<Vec<_>>(),
        })
    }
}

#[test]
fn validate_matches_aws_judged_definitions() {
    let files = crate::util::corpus_files(&corpus_dir());
    let mut passing = 0;
    for file in &files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let mut expected = case["expected"].clone();
        let mut got = answer(&case);
        for key in ["http_status", "truncated"] {
            if let Some(o) = expected.as_object_mut() {
                o.remove(key);
            }
        }
        for path in case["ignore_paths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            crate::util::remove_path(&mut expected, path);
            crate::util::remove_path(&mut got, path);
        }
        if expected == got {
            passing += 1;
        } else {
            println!(
                "FAIL {}\n  expected: {expected}\n  got:      {got}",
                case["id"].as_str().unwrap_or("?")
            );
        }
    }
    println!("validation corpus: {passing} of {} pass", files.len());
    assert!(
        passing >= PASSING_AT_LEAST,
        "{passing} of {} pass; expected at least {PASSING_AT_LEAST}",
        files.len()
    );
}

/// Definitions AWS accepted and ran (`<workspace>/../shared/conformance/localstack`): an error
/// reported for one of them is a false positive.

#[test]
fn validate_accepts_what_aws_ran() {
    let dir = corpus_dir().join("../localstack");
    let files = crate::util::corpus_files(&dir);
    let mut flagged = 0;
    for file in &files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let diags = validate_for(&case["definition"], MachineType::Standard);
        if has_errors(&diags) {
            flagged += 1;
            println!(
                "FLAGGED {}: {}",
                case["id"].as_str().unwrap_or("?"),
                aws_message(&diags)
            );
        }
    }
    println!("accepted corpus: {flagged} of {} flagged", files.len());
    assert_eq!(flagged, 0, "AWS-accepted definitions flagged");
}

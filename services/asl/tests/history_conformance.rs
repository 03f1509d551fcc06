//! Runs every execution whose history AWS recorded (../shared/conformance/history, one file per
//! case of ../shared/conformance/localstack with the same name) with a history recorder, and
//! compares the skeleton — each event's id, previousEventId, type and state name — with AWS's.
//! Ratchet: tests/ratchet/history.txt; `QUICKSTEP_RATCHET=write` rewrites it.

use crate::conformance::{enforce_ratchet, functions_of, machine_type_of, run_corpus};
use crate::util::{run_observed, shared_dir};
use asl::history::{HistoryEvent, Recorder};
use serde_json::{json, Value};
use std::path::Path;

/// The skeleton of one event, as the corpus spells it.
fn skeleton(event: &HistoryEvent) -> Value {
    json!({
        "id": event.id,
        "previousEventId": event.previous_event_id,
        "type": event.event_type.as_str(),
        "name": event.details.get("name").cloned().unwrap_or(Value::Null),
    })
}

/// Why a history differs, led by a reason class (`[type]`, `[previousEventId]`, `[name]`,
/// `[length]`, `[run]`) for the failures list.
fn compare(want: &[Value], got: &[Value]) -> Result<(), String> {
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        for key in ["type", "previousEventId", "name", "id"] {
            if w[key] != g[key] {
                return Err(format!(
                    "[{key}] event {}: expected {w}\n got {g}\n around {}",
                    i + 1,
                    got[i.saturating_sub(3)..(i + 3).min(got.len())]
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n ")
                ));
            }
        }
    }
    if want.len() != got.len() {
        let n = want.len().min(got.len());
        return Err(format!(
            "[length] expected {} events, got {}; first extra: {}",
            want.len(),
            got.len(),
            want.get(n).or(got.get(n)).unwrap_or(&Value::Null)
        ));
    }
    Ok(())
}

/// Runs the execution case named like `file` and compares its history with `recorded`.
fn check(file: &Path, recorded: &Value) -> Result<(), String> {
    let name = file.file_name().expect("a case file has a name");
    let case_file = shared_dir().join("conformance/localstack").join(name);
    let case: Value = serde_json::from_str(
        &std::fs::read_to_string(&case_file)
            .map_err(|e| format!("[run] the execution case {}: {e}", case_file.display()))?,
    )
    .map_err(|e| format!("[run] {}: {e}", case_file.display()))?;
    if case["id"] != recorded["id"] {
        return Err(format!("[run] {} is the case {}", case_file.display(), case["id"]));
    }
    let recorder = Recorder::default();
    run_observed(
        &case["definition"],
        case["input"].clone(),
        functions_of(&case),
        machine_type_of(&case),
        Some(&recorder),
    )
    .map_err(|e| format!("[run] {e}"))?;
    let got: Vec<Value> = recorder.events().iter().map(skeleton).collect();
    let want = recorded["history"].as_array().cloned().unwrap_or_default();
    if want.is_empty() {
        return Err("[run] the recorded history is empty".into());
    }
    compare(&want, &got)
}

#[test]
fn history_conformance() {
    let dir = shared_dir().join("conformance/history");
    let results = run_corpus(&dir, check);
    enforce_ratchet("history", results);
}

//! Runs every execution whose history AWS recorded (../shared/conformance/history, one file per
//! case of ../shared/conformance/localstack with the same name) with a history recorder, and
//! compares the skeleton — each event's id, previousEventId, type and state name — with AWS's.
//! Ratchet: tests/ratchet/history.txt; `QUICKSTEP_RATCHET=write` rewrites it, and
//! `QUICKSTEP_HISTORY_DUMP=<dir>` writes each skeleton we produce there, to diff by hand.
//!
//! Known failures (history-failures.txt): AWS changed where a Distributed Map's MapStateExited
//! points. The recordings of February–July 2024 link it to MapRunSucceeded, those from November
//! 2024 on (and every recent one) to MapRunStarted; the engine follows today's AWS.

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
/// `[length]`, `[unordered]`, `[run]`) for the failures list.
fn compare(want: &[Value], got: &[Value]) -> Result<(), String> {
    if want.iter().any(|e| !e["id"].is_u64()) {
        return compare_unordered(want, got);
    }
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

/// For recordings of concurrent branches: the recorder replaced the ids of the branches'
/// events with `[0]` (their order between branches is not fixed), sorted them, and left out
/// the Parallel states' own events after their entry (ParallelStateSucceeded, …). Each event
/// with an id must then match ours of that id exactly, the id-less ones must be events of
/// ours (by type and name) that the recording numbers nowhere, the histories must end at the
/// same id, and what the recording leaves out may only be such Parallel events.
fn compare_unordered(want: &[Value], got: &[Value]) -> Result<(), String> {
    let numbered: Vec<&Value> = want.iter().filter(|e| e["id"].is_u64()).collect();
    let last = numbered.last().and_then(|e| e["id"].as_u64()).unwrap_or(0);
    if got.len() as u64 != last {
        return Err(format!(
            "[length] the recording ends at id {last}, we have {} events",
            got.len()
        ));
    }
    for w in &numbered {
        let id = w["id"].as_u64().expect("numbered");
        let g = &got[id as usize - 1];
        for key in ["type", "previousEventId", "name"] {
            if w[key] != g[key] {
                return Err(format!("[{key}] event {id}: expected {w}\n got {g}"));
            }
        }
    }
    let mut unnumbered: Vec<(&Value, &Value)> = got
        .iter()
        .filter(|g| !numbered.iter().any(|w| w["id"] == g["id"]))
        .map(|g| (&g["type"], &g["name"]))
        .collect();
    for w in want.iter().filter(|e| !e["id"].is_u64()) {
        match unnumbered
            .iter()
            .position(|(t, n)| **t == w["type"] && **n == w["name"])
        {
            Some(i) => {
                unnumbered.swap_remove(i);
            }
            None => return Err(format!("[unordered] no event of ours matches {w}")),
        }
    }
    match unnumbered.iter().find(|(t, _)| {
        !t.as_str()
            .is_some_and(|t| t.starts_with("ParallelState") && t != "ParallelStateEntered")
    }) {
        Some((t, n)) => Err(format!("[unordered] our {t} {n} is not in the recording")),
        None => Ok(()),
    }
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
        return Err(format!(
            "[run] {} is the case {}",
            case_file.display(),
            case["id"]
        ));
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
    if let Ok(d) = std::env::var("QUICKSTEP_HISTORY_DUMP") {
        std::fs::write(
            std::path::Path::new(&d).join(name),
            serde_json::to_string(&got).unwrap(),
        )
        .unwrap();
    }
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

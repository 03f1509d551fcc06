//! The conformance cases with `task_behaviour`, run through the real Lambda integration
//! (HTTP, the Invoke API) against a Lambda-compatible test server implementing the
//! behaviours. Cases whose functions delay are left to the in-process harness in `asl`
//! (its clock is virtual; here the clock is real). Every case the `asl` ratchet lists as
//! passing must pass here too. `QUICKSTEP_SHARED` overrides where the corpus is.

mod common;

use asl::validate::MachineType;
use common::{lambda_server, run};
use runtime::clock::SystemClock;
use runtime::tasks::callback::CallbackRegistry;
use runtime::tasks::config::TasksConfig;
use runtime::tasks::Integrations;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use testkit::{remove_path, same, shared_dir};

async fn check(case: &Value, endpoint: String) -> Result<(), String> {
    let config: TasksConfig =
        serde_json::from_value(serde_json::json!({"lambda": {"endpoint": endpoint}}))
            .expect("config");
    let tasks = Integrations::new(
        &config,
        None,
        CallbackRegistry::new(std::sync::Arc::new(SystemClock), common::keys()),
    )
    .map_err(|e| e.to_string())?;
    let machine_type = match case["provenance"]["state_machine_type"].as_str() {
        Some("EXPRESS") => MachineType::Express,
        _ => MachineType::Standard,
    };
    let outcome = run(
        &case["definition"],
        case["input"].clone(),
        machine_type,
        &tasks,
    )
    .await;
    let expected = &case["expected"];
    let mut want = serde_json::json!({"status": expected["status"]});
    let mut got = serde_json::json!({"status": outcome.status.as_str()});
    for key in ["output", "error", "cause"] {
        if let Some(v) = expected.get(key) {
            want[key] = v.clone();
        }
    }
    if let Some(output) = &outcome.output {
        got["output"] = output.clone();
    }
    if let Some(error) = &outcome.error {
        got["error"] = error.clone().into();
    }
    if let Some(cause) = &outcome.cause {
        got["cause"] = if expected["cause_is_parsed_json"] == true {
            serde_json::from_str(cause).unwrap_or_else(|_| cause.clone().into())
        } else {
            cause.clone().into()
        };
    }
    if !(expected["status"] == "SUCCEEDED" || outcome.output.is_some()) {
        want.as_object_mut().expect("object").shift_remove("output");
    }
    for path in case["ignore_paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        remove_path(&mut want, path);
        remove_path(&mut got, path);
    }
    if same(&want, &got) {
        Ok(())
    } else {
        Err(format!("expected {want}\n      got      {got}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_the_lambda_invoke_api() {
    let dir = shared_dir().join("conformance/localstack");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the conformance corpus at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let ratchet: BTreeSet<String> = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../asl/tests/ratchet/conformance.txt"),
    )
    .unwrap_or_default()
    .lines()
    .filter(|l| !l.is_empty() && !l.starts_with('#'))
    .map(str::to_owned)
    .collect();
    let (base, functions) = lambda_server().await;
    let mut cases = Vec::new();
    let mut delayed = 0;
    for (i, file) in files.iter().enumerate() {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("readable")).expect("JSON");
        let Some(behaviours) = case.get("task_behaviour").and_then(Value::as_object) else {
            continue;
        };
        if behaviours
            .values()
            .any(|b| b.get("delay_seconds").is_some())
        {
            delayed += 1;
            continue;
        }
        let namespace = format!("case{i}");
        for (name, behaviour) in behaviours {
            let arn_name = behaviour["function_arn"]
                .as_str()
                .and_then(|a| a.rsplit(':').next())
                .unwrap_or(name);
            functions.add(&namespace, arn_name, behaviour.clone());
        }
        cases.push((case, format!("{base}/{namespace}")));
    }
    // Independent executions: run them all at once (retry intervals are real seconds).
    let results = futures::future::join_all(cases.iter().map(|(case, endpoint)| async move {
        let id = case["id"].as_str().unwrap_or_default().to_owned();
        (id, check(case, endpoint.clone()).await)
    }))
    .await;
    let mut passing = 0;
    let mut regressed = Vec::new();
    for (id, result) in &results {
        match result {
            Ok(()) => passing += 1,
            Err(reason) => {
                eprintln!(
                    "{} {id}\n      {reason}",
                    if ratchet.contains(id) {
                        "REGRESSED"
                    } else {
                        "FAIL"
                    }
                );
                if ratchet.contains(id) {
                    regressed.push(id.clone());
                }
            }
        }
    }
    eprintln!(
        "lambda conformance over HTTP: {passing} of {} cases pass ({delayed} delay cases left to the in-process harness)",
        results.len()
    );
    assert!(
        results.len() >= 60,
        "the corpus has the task_behaviour cases"
    );
    assert!(
        regressed.is_empty(),
        "{} cases pass in-process but not over HTTP",
        regressed.len()
    );
}

//! The AWS-recorded TestState corpus (../shared/conformance/teststate, 152 API calls and
//! AWS's answers) through the gateway: each request as the API takes it, each answer compared
//! with AWS's (JSON text compared parsed; recorder-rewritten paths ignored). A pass-count
//! ratchet: passing cases are listed in tests/ratchet/teststate.txt and must keep passing;
//! `QUICKSTEP_RATCHET=write` rewrites it and tests/ratchet/teststate-failures.txt (reasons).

use axum::body::Body;
use axum::http::Request;
use gateway::config::GatewayConfig;
use gateway::Gateway;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use testkit::{path_steps, shared_dir};
use tower::ServiceExt;

fn ratchet(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ratchet")
        .join(name)
}

fn node<'v>(root: &'v mut Value, steps: &[String]) -> Option<&'v mut Value> {
    let mut node = root;
    for step in steps {
        node = match node {
            Value::Object(map) => map.get_mut(step)?,
            Value::Array(items) => items.get_mut(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn remove(root: &mut Value, path: &str) {
    let steps = path_steps(path);
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    match node(root, parents) {
        Some(Value::Object(map)) => {
            map.remove(last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < items.len() {
                    items[i] = Value::Null;
                }
            }
        }
        _ => {}
    }
}

/// Replaces JSON text at `path` with its parsed value.
fn parse_at(root: &mut Value, path: &str) {
    if let Some(value) = node(root, &path_steps(path)) {
        if let Some(parsed) = value.as_str().and_then(|t| serde_json::from_str(t).ok()) {
            *value = parsed;
        }
    }
}

fn request_body(case: &Value) -> Value {
    let mut request = case["request"].clone();
    for field in case["request_json_fields"].as_array().into_iter().flatten() {
        let path = format!("$.{}", field.as_str().unwrap_or_default());
        if let Some(value) = node(&mut request, &path_steps(&path)) {
            *value = Value::String(value.to_string());
        }
    }
    request
}

async fn check(gateway: &Arc<Gateway>, case: &Value) -> Result<(), String> {
    let body = request_body(case);
    let response = gateway
        .clone()
        .router()
        .oneshot(
            Request::post("/")
                .header("x-amz-target", "AWSStepFunctions.TestState")
                .header("content-type", "application/x-amz-json-1.0")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await
        .expect("infallible");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let mut got: Value = serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
    let mut want = case["expected"].clone();
    if let Some(code) = want.get("error_code").and_then(Value::as_str) {
        return if got["__type"] == code {
            Ok(())
        } else {
            Err(format!("expected error {code}, got {got}"))
        };
    }
    for path in case["json_text_paths"].as_array().into_iter().flatten() {
        let path = path.as_str().unwrap_or_default();
        parse_at(&mut got, path);
        parse_at(&mut want, path);
    }
    for path in case["ignore_paths"].as_array().into_iter().flatten() {
        let path = path.as_str().unwrap_or_default();
        remove(&mut got, path);
        remove(&mut want, path);
    }
    if got == want {
        Ok(())
    } else {
        Err(format!("expected {want}\n      got      {got}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn teststate_corpus() {
    let dir = shared_dir().join("conformance/teststate");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the TestState corpus at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "the TestState corpus at {} has no cases",
        dir.display()
    );
    let gateway = Arc::new(
        Gateway::in_memory(keyed(GatewayConfig::default()))
            .expect("gateway")
            .0,
    );
    let mut passing = BTreeSet::new();
    let mut failures = Vec::new();
    for file in &files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).expect("readable"))
            .expect("a case is JSON");
        let id = case["id"].as_str().expect("an id").to_owned();
        match check(&gateway, &case).await {
            Ok(()) => {
                passing.insert(id);
            }
            Err(reason) => failures.push((id, reason)),
        }
    }
    let listed: BTreeSet<String> = std::fs::read_to_string(ratchet("teststate.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let regressed: Vec<_> = failures
        .iter()
        .filter(|(id, _)| listed.contains(id))
        .collect();
    for (id, reason) in &regressed {
        eprintln!("REGRESSED {id}\n      {reason}");
    }
    eprintln!(
        "teststate: {} of {} cases pass ({} in the ratchet)",
        passing.len(),
        files.len(),
        listed.len()
    );
    if std::env::var("QUICKSTEP_RATCHET").as_deref() == Ok("write") {
        let mut text = String::from(
            "# TestState cases that pass; the build fails if one of them stops passing.\n",
        );
        for id in &passing {
            text.push_str(id);
            text.push('\n');
        }
        std::fs::write(ratchet("teststate.txt"), text).expect("write ratchet");
        let mut text =
            String::from("# TestState cases that fail, with expected vs got (generated).\n");
        for (id, reason) in &failures {
            text.push_str(&format!(
                "{id}\n      {}\n",
                reason.replace('\n', "\n      ")
            ));
        }
        std::fs::write(ratchet("teststate-failures.txt"), text).expect("write failures");
    }
    assert!(
        regressed.is_empty(),
        "{} ratcheted TestState cases regressed",
        regressed.len()
    );
}

/// A configuration with the deployment's task token key (every gateway needs one).
fn keyed(config: GatewayConfig) -> GatewayConfig {
    GatewayConfig {
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(TEST_TOKEN_KEY)),
        ..config
    }
}

const TEST_TOKEN_KEY: &str = "the-gateway-tests-task-token-key-32-bytes";

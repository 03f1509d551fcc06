//! Test servers: a Lambda-Invoke-compatible one whose functions behave as the conformance
//! corpus's `task_behaviour` describes, and helpers to run a definition on the real clock.

#![allow(dead_code)]

use asl::interpret::SplitMix64;
use asl::validate::MachineType;
use asl::{ExecutionInfo, Machine, Outcome, Services, TaskHandler};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use runtime::clock::SystemClock;
use runtime::task_token::TaskTokenKeys;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The test process's task token keys: `run` mints with them, and every callback
/// registry of a test checks with them.
pub fn keys() -> Arc<TaskTokenKeys> {
    static KEYS: std::sync::OnceLock<Arc<TaskTokenKeys>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| Arc::new(TaskTokenKeys::ephemeral().expect("OS randomness")))
        .clone()
}

/// Functions by namespace (a path prefix, one per test case) and name.
#[derive(Clone, Default)]
pub struct Functions {
    pub by_namespace: Arc<Mutex<HashMap<String, HashMap<String, Value>>>>,
    /// Every request's headers, for assertions.
    pub seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Functions {
    pub fn add(&self, namespace: &str, name: &str, behaviour: Value) {
        self.by_namespace
            .lock()
            .unwrap()
            .entry(namespace.to_owned())
            .or_default()
            .insert(name.to_owned(), behaviour);
    }
}

async fn invoke(
    State(functions): State<Functions>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    functions.seen.lock().unwrap().push(headers);
    let behaviour = functions
        .by_namespace
        .lock()
        .unwrap()
        .get(&namespace)
        .and_then(|fs| fs.get(&name))
        .cloned();
    let Some(b) = behaviour else {
        return (
            StatusCode::NOT_FOUND,
            [("x-amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.awsgirlambda/"), ("x-amzn-RequestId", "req-404")],
            json!({"Type": "User", "message": format!("Function not found: arn:aws:lambda:us-east-1:111111111111:function:{name}")}).to_string(),
        )
            .into_response();
    };
    if let Some(delay) = b.get("delay_seconds").and_then(Value::as_f64) {
        tokio::time::sleep(std::time::Duration::from_secs_f64(delay)).await;
    }
    let ok = |body: Vec<u8>| {
        (
            StatusCode::OK,
            [
                ("X-Amz-Executed-Version", "$LATEST"),
                ("x-amzn-RequestId", "req-1"),
            ],
            body,
        )
            .into_response()
    };
    match b["behaviour"].as_str() {
        Some("identity") => ok(body.to_vec()),
        Some("constant") => ok(b["value"].to_string().into_bytes()),
        Some("raise") => (
            StatusCode::OK,
            [
                ("X-Amz-Function-Error", "Unhandled"),
                ("X-Amz-Executed-Version", "$LATEST"),
            ],
            json!({
                "errorMessage": b["errorMessage"].as_str().unwrap_or(""),
                "errorType": b["errorType"].as_str().unwrap_or("Exception"),
                "requestId": "00000000-0000-0000-0000-000000000000",
                "stackTrace": [],
            })
            .to_string(),
        )
            .into_response(),
        Some("oversized_payload") => {
            let bytes = b["payload_bytes"].as_u64().unwrap_or(300_000) as usize;
            let unit = b["payload_repeat"].as_str().unwrap_or("a");
            ok(unit.repeat(bytes / unit.len().max(1)).into_bytes())
        }
        other => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("unknown behaviour {other:?}"),
        )
            .into_response(),
    }
}

/// Starts the Lambda-compatible server; its endpoint for `namespace` is
/// `http://ADDR/NAMESPACE`.
pub async fn lambda_server() -> (String, Functions) {
    let functions = Functions::default();
    let app = axum::Router::new()
        .route(
            "/{namespace}/2015-03-31/functions/{name}/invocations",
            axum::routing::post(invoke),
        )
        .with_state(functions.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), functions)
}

pub fn info() -> ExecutionInfo<'static> {
    ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:test:run".into(),
        name: "run".into(),
        role_arn: "arn:aws:iam::111111111111:role/test".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:test".into(),
        state_machine_name: "test".into(),
        redrive_count: None,
    }
}

/// The engine's clock on tokio's time and timer: real time normally, virtual under
/// `#[tokio::test(start_paused = true)]`, where timeouts and heartbeats then fire exactly
/// when due however busy the machine is.
pub struct TokioClock {
    origin: tokio::time::Instant,
    origin_ms: i64,
}

impl TokioClock {
    /// Starts at the current wall-clock time (so timestamps look real).
    pub fn new() -> TokioClock {
        TokioClock {
            origin: tokio::time::Instant::now(),
            origin_ms: asl::interpret::Clock::now_ms(&SystemClock),
        }
    }
}

impl asl::interpret::Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.origin_ms + self.origin.elapsed().as_millis() as i64
    }

    fn sleep(&self, duration: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Runs `definition` on tokio's clock (see `TokioClock`) with `tasks`.
pub async fn run(
    definition: &Value,
    input: Value,
    machine_type: MachineType,
    tasks: &dyn TaskHandler,
) -> Outcome {
    let machine = Machine::from_definition(definition, machine_type)
        .unwrap_or_else(|e| panic!("definition rejected: {e}"));
    let rng = SplitMix64::new(42);
    let clock = TokioClock::new();
    let keys = keys();
    let services = Services {
        tasks,
        clock: &clock,
        rng: &rng,
        tokens: keys.as_ref(),
        history: None,
    };
    machine.run(input, &info(), &services).await
}

/// A one-Task machine.
pub fn task(state: Value) -> Value {
    let mut state = state;
    state["Type"] = json!("Task");
    state["End"] = json!(true);
    json!({"StartAt": "T", "States": {"T": state}})
}

/// One Task state calling `resource` with `parameters`, in an Express machine.
pub async fn call(tasks: &dyn TaskHandler, resource: &str, parameters: Value) -> Outcome {
    run(
        &task(json!({"Resource": resource, "Parameters": parameters})),
        json!({}),
        MachineType::Express,
        tasks,
    )
    .await
}

/// [`call`], which must succeed: its output.
pub async fn ok(tasks: &dyn TaskHandler, resource: &str, parameters: Value) -> Value {
    let outcome = call(tasks, resource, parameters).await;
    assert_eq!(
        outcome.status,
        asl::Status::Succeeded,
        "{resource}: {outcome:?}"
    );
    outcome.output.expect("a succeeded execution has an output")
}

//! Shared helpers: run a definition on a virtual clock with in-process task handlers that
//! behave like the Lambda functions the conformance corpus describes.

use asl::interpret::{SplitMix64, VirtualClock};
use asl::validate::MachineType;
use asl::{
    ErrorName, ExecutionInfo, Machine, Outcome, Services, StatesError, TaskHandler, TaskRequest,
};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::time::Duration;

/// 2026-01-01T00:00:00Z: every test execution starts here, after every timestamp the
/// corpus waits for.
pub const START_MS: i64 = 1_767_225_600_000;

/// How a stand-in Lambda function behaves (the corpus's `task_behaviour`).
#[derive(Debug, Clone)]
pub struct Function {
    pub arn: String,
    pub behaviour: Value,
}

/// Emulates Lambda for both `arn:aws:lambda:…:function:NAME` and `arn:aws:states:::lambda:invoke`.
pub struct Lambdas {
    pub functions: Vec<Function>,
    pub clock: VirtualClock,
}

impl Lambdas {
    fn find(&self, name_or_arn: &str) -> Option<&Function> {
        self.functions
            .iter()
            .find(|f| f.arn == name_or_arn || f.arn.rsplit(':').next() == Some(name_or_arn))
    }

    async fn call(&self, function: &str, payload: Value) -> Result<Value, StatesError> {
        let Some(function) = self.find(function) else {
            return Err(StatesError::new(
                ErrorName::Custom("Lambda.ResourceNotFoundException".into()),
                format!("Function not found: {function}"),
            ));
        };
        let b = &function.behaviour;
        if let Some(delay) = b.get("delay_seconds").and_then(Value::as_f64) {
            asl::interpret::Clock::sleep(&self.clock, Duration::from_secs_f64(delay)).await;
        }
        match b["behaviour"].as_str() {
            Some("identity") => Ok(payload),
            Some("constant") => Ok(b["value"].clone()),
            Some("raise") => {
                let error_type = b["errorType"].as_str().unwrap_or("Exception");
                let document = json!({
                    "errorMessage": b["errorMessage"].as_str().unwrap_or(""),
                    "errorType": error_type,
                    "requestId": "00000000-0000-0000-0000-000000000000",
                    "stackTrace": [],
                });
                Err(StatesError::new(
                    ErrorName::parse(error_type),
                    document.to_string(),
                ))
            }
            Some("oversized_payload") => {
                let bytes = b["payload_bytes"].as_u64().unwrap_or(300_000) as usize;
                let unit = b["payload_repeat"].as_str().unwrap_or("a");
                Ok(Value::String(unit.repeat(bytes / unit.len().max(1))))
            }
            other => Err(StatesError::new(
                ErrorName::Custom("Test.UnknownBehaviour".into()),
                format!("{other:?}"),
            )),
        }
    }
}

impl TaskHandler for Lambdas {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            if request.resource.starts_with("arn:aws:lambda:") {
                return self.call(request.resource, request.input).await;
            }
            if request
                .resource
                .starts_with("arn:aws:states:::lambda:invoke")
            {
                let function = request.input["FunctionName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                // Lambda's Invoke API carries bytes: a string Payload is sent as its text, and
                // the response is JSON when it parses (conformance: test_invoke_json_values).
                let payload = match request.input.get("Payload") {
                    None | Some(Value::Null) => json!({}),
                    Some(Value::String(text)) => {
                        serde_json::from_str(text).unwrap_or(Value::String(text.clone()))
                    }
                    Some(other) => other.clone(),
                };
                let result = self.call(&function, payload).await?;
                return Ok(json!({
                    "ExecutedVersion": "$LATEST",
                    "Payload": result,
                    "SdkHttpMetadata": {},
                    "SdkResponseMetadata": {},
                    "StatusCode": 200,
                }));
            }
            Err(StatesError::new(
                ErrorName::Custom("Test.UnknownResource".into()),
                request.resource.to_owned(),
            ))
        })
    }
}

/// Compiles and runs `definition` on a virtual clock; `None` if the definition is rejected.
pub fn run_with(
    definition: &Value,
    input: Value,
    functions: Vec<Function>,
    machine_type: MachineType,
) -> Result<Outcome, String> {
    let machine = Machine::from_definition(definition, machine_type).map_err(|e| e.to_string())?;
    let clock = VirtualClock::new(START_MS);
    let lambdas = Lambdas {
        functions,
        clock: clock.clone(),
    };
    let rng = SplitMix64::new(42);
    let services = Services {
        tasks: &lambdas,
        clock: &clock,
        rng: &rng,
        history: None,
    };
    let info = ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:test:run".into(),
        name: "run".into(),
        role_arn: "arn:aws:iam::111111111111:role/test".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:test".into(),
        state_machine_name: "test".into(),
        // Only STANDARD executions can be redriven; Express ones have no RedriveCount.
        redrive_count: (machine_type == MachineType::Standard).then_some(0),
    };
    clock
        .block_on(machine.run(input, &info, &services))
        .ok_or_else(|| "the execution waited on something other than the clock".to_owned())
}

/// Runs and expects success with `output`.
#[allow(dead_code)]
pub fn run_ok(definition: Value, input: Value, output: Value) {
    let outcome = run_with(&definition, input, Vec::new(), MachineType::Express).expect("runs");
    assert_eq!(
        outcome.to_json(),
        json!({"status": "SUCCEEDED", "output": output})
    );
}

/// Runs and expects failure with the error name `error`.
#[allow(dead_code)]
pub fn run_err(definition: Value, input: Value, error: &str) {
    let outcome = run_with(&definition, input, Vec::new(), MachineType::Express).expect("runs");
    assert_eq!(outcome.error.as_deref(), Some(error), "{:?}", outcome);
}

/// The shared corpora: `QUICKSTEP_SHARED`, else `shared/` beside the checkout.
pub fn shared_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("QUICKSTEP_SHARED") {
        return dir.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Numbers compare as numbers (1 == 1.0); everything else structurally.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Removes the node an `ignore_paths` entry names (`$.output.a[0]`, `$.cause`).
pub fn remove_path(root: &mut Value, path: &str) {
    let mut steps = Vec::new();
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").unwrap_or(r.len());
            steps.push(r[..end].to_owned());
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            steps.push(r[..end].to_owned());
            rest = r.get(end + 1..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            steps.push(r[..end].to_owned());
            rest = &r[end..];
        } else {
            return;
        }
    }
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    let mut node = root;
    for step in parents {
        node = match node {
            Value::Object(map) => match map.get_mut(step) {
                Some(next) => next,
                None => return,
            },
            Value::Array(items) => {
                match step.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(next) => next,
                    None => return,
                }
            }
            _ => return,
        };
    }
    match node {
        Value::Object(map) => {
            map.shift_remove(last);
        }
        Value::Array(items) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < items.len() {
                    items[i] = Value::Null;
                }
            }
        }
        _ => {}
    }
}

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
    run_observed(definition, input, functions, machine_type, None)
}

/// `run_with`, giving the history to `history`.
pub fn run_observed(
    definition: &Value,
    input: Value,
    functions: Vec<Function>,
    machine_type: MachineType,
    history: Option<&dyn asl::history::HistoryObserver>,
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
        tokens: &asl::interpret::CountingTokens::default(),
        history,
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

pub use testkit::{remove_path, same, shared_dir};

/// The `.json` files of a corpus directory, sorted. A corpus that is missing or holds no case
/// fails the test that reads it: a conformance test that checks nothing must not pass.
#[allow(dead_code)]
pub fn corpus_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the corpus at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert!(
        !files.is_empty(),
        "the corpus at {} holds no .json case",
        dir.display()
    );
    files.sort();
    files
}

// ---- Behaviour-test helpers: scripted tasks, history, one-line assertions. ----

/// One call a scripted task received.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Call {
    /// 0-based, in the order calls arrived.
    pub index: usize,
    pub resource: String,
    pub input: Value,
    pub token: Option<String>,
    pub heartbeat: Option<u64>,
    /// Seconds of virtual time since the execution started.
    pub at_s: f64,
}

/// What a scripted task does.
#[allow(dead_code)]
pub enum Reply {
    Return(Value),
    Fail(String, String),
    /// Sleeps this many seconds on the virtual clock, then does the rest.
    After(f64, Box<Reply>),
}

#[allow(dead_code)]
pub fn ok(value: Value) -> Reply {
    Reply::Return(value)
}

#[allow(dead_code)]
pub fn fail(name: &str, cause: &str) -> Reply {
    Reply::Fail(name.into(), cause.into())
}

#[allow(dead_code)]
pub fn after(seconds: f64, reply: Reply) -> Reply {
    Reply::After(seconds, Box::new(reply))
}

type Script = Box<dyn Fn(&Call) -> Reply + Send + Sync>;

/// A task handler driven by a closure, recording every call.
struct Scripted {
    script: Script,
    clock: VirtualClock,
    calls: std::sync::Mutex<Vec<Call>>,
}

impl TaskHandler for Scripted {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            let call = {
                let mut calls = self.calls.lock().unwrap();
                let call = Call {
                    index: calls.len(),
                    resource: request.resource.to_owned(),
                    input: request.input.clone(),
                    token: request.task_token.clone(),
                    heartbeat: request.heartbeat_seconds,
                    at_s: (asl::interpret::Clock::now_ms(&self.clock) - START_MS) as f64 / 1000.0,
                };
                calls.push(call.clone());
                call
            };
            let mut reply = (self.script)(&call);
            loop {
                match reply {
                    Reply::Return(value) => return Ok(value),
                    Reply::Fail(name, cause) => {
                        return Err(StatesError::new(ErrorName::parse(&name), cause))
                    }
                    Reply::After(seconds, rest) => {
                        asl::interpret::Clock::sleep(&self.clock, Duration::from_secs_f64(seconds))
                            .await;
                        reply = *rest;
                    }
                }
            }
        })
    }
}

/// An observer at a fixed level, keeping what it is given.
pub struct Observer {
    pub level: asl::history::Level,
    pub events: std::sync::Mutex<Vec<asl::history::HistoryEvent>>,
}

impl asl::history::HistoryObserver for Observer {
    fn level(&self) -> asl::history::Level {
        self.level
    }
    fn include_execution_data(&self) -> bool {
        true
    }
    fn record(&self, event: asl::history::HistoryEvent) {
        self.events.lock().unwrap().push(event);
    }
}

/// Everything one scripted execution produced.
#[allow(dead_code)]
pub struct Ran {
    pub outcome: Outcome,
    pub calls: Vec<Call>,
    pub events: Vec<asl::history::HistoryEvent>,
}

#[allow(dead_code)]
impl Ran {
    /// The history's event types, in order.
    pub fn types(&self) -> Vec<&'static str> {
        self.events.iter().map(|e| e.event_type.as_str()).collect()
    }
    /// Seconds of virtual time the execution took.
    pub fn elapsed_s(&self) -> f64 {
        (self.outcome.stop_ms - self.outcome.start_ms) as f64 / 1000.0
    }
    pub fn output(&self) -> Value {
        assert_eq!(
            self.outcome.status,
            asl::Status::Succeeded,
            "{:?}",
            self.outcome
        );
        self.outcome.output.clone().unwrap()
    }
    pub fn error(&self) -> &str {
        self.outcome.error.as_deref().unwrap_or("")
    }
    pub fn cause(&self) -> &str {
        self.outcome.cause.as_deref().unwrap_or("")
    }
}

/// Runs with a scripted task handler, a history recorder at `level`, as `machine_type`.
pub fn run_full(
    definition: &Value,
    input: Value,
    machine_type: MachineType,
    level: asl::history::Level,
    script: impl Fn(&Call) -> Reply + Send + Sync + 'static,
) -> Ran {
    let machine = Machine::from_definition(definition, machine_type)
        .unwrap_or_else(|e| panic!("definition rejected: {e}"));
    let clock = VirtualClock::new(START_MS);
    let tasks = Scripted {
        script: Box::new(script),
        clock: clock.clone(),
        calls: Default::default(),
    };
    let observer = Observer {
        level,
        events: Default::default(),
    };
    let rng = SplitMix64::new(42);
    let services = Services {
        tasks: &tasks,
        clock: &clock,
        rng: &rng,
        tokens: &asl::interpret::CountingTokens::default(),
        history: Some(&observer),
    };
    let info = ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:test:run".into(),
        name: "run".into(),
        role_arn: "arn:aws:iam::111111111111:role/test".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:test".into(),
        state_machine_name: "test".into(),
        redrive_count: (machine_type == MachineType::Standard).then_some(0),
    };
    let outcome = clock
        .block_on(machine.run(input, &info, &services))
        .expect("the execution only waits on the clock");
    let calls = tasks.calls.lock().unwrap().clone();
    let events = observer.events.lock().unwrap().clone();
    Ran {
        outcome,
        calls,
        events,
    }
}

/// Runs an Express execution with scripted tasks and full history.
#[allow(dead_code)]
pub fn run_script(
    definition: Value,
    input: Value,
    script: impl Fn(&Call) -> Reply + Send + Sync + 'static,
) -> Ran {
    run_full(
        &definition,
        input,
        MachineType::Express,
        asl::history::Level::All,
        script,
    )
}

/// Runs an Express execution whose tasks (if any) fail with `Test.NoTask`.
#[allow(dead_code)]
pub fn run(definition: Value, input: Value) -> Ran {
    run_script(definition, input, |_| {
        fail("Test.NoTask", "no task expected")
    })
}

/// Runs and expects failure with `error` and a cause containing `cause`.
#[allow(dead_code)]
pub fn run_cause(definition: Value, input: Value, error: &str, cause: &str) {
    let ran = run(definition, input);
    assert_eq!(ran.error(), error, "{:?}", ran.outcome);
    assert!(
        ran.cause().contains(cause),
        "cause {:?} lacks {:?}",
        ran.cause(),
        cause
    );
}

/// A one-state machine: `state` named `S`, made the end.
#[allow(dead_code)]
pub fn single(mut state: Value) -> Value {
    if state["Type"] != "Choice" && state["Type"] != "Succeed" && state["Type"] != "Fail" {
        state["End"] = json!(true);
    }
    json!({"StartAt": "S", "States": {"S": state}})
}

/// A machine of states run in the order given, each `Next` the following; the last ends.
#[allow(dead_code)]
pub fn chain(states: &[(&str, Value)]) -> Value {
    let mut map = serde_json::Map::new();
    for (i, (name, state)) in states.iter().enumerate() {
        let mut state = state.clone();
        let terminal = matches!(state["Type"].as_str(), Some("Choice" | "Succeed" | "Fail"));
        if !terminal && state.get("Next").is_none() && state.get("End").is_none() {
            match states.get(i + 1) {
                Some((next, _)) => state["Next"] = json!(next),
                None => state["End"] = json!(true),
            }
        }
        map.insert((*name).to_owned(), state);
    }
    json!({"StartAt": states[0].0, "States": map})
}

/// Expects `Machine::from_definition` to refuse `definition`.
#[allow(dead_code)]
pub fn rejected(definition: Value) -> String {
    rejected_as(definition, MachineType::Standard)
}

/// Expects `Machine::from_definition` to refuse `definition` (as STANDARD) with an error
/// diagnostic of `code` (AWS's spelling) at `location` (a JSON pointer); returns the message.
#[allow(dead_code)]
pub fn rejected_at(definition: Value, code: &str, location: &str) -> String {
    match Machine::from_definition(&definition, MachineType::Standard) {
        Ok(_) => panic!("accepted: {definition}"),
        Err(e) => {
            assert!(
                e.diagnostics
                    .iter()
                    .any(|d| d.severity == asl::validate::Severity::Error
                        && d.code.as_str() == code
                        && d.location == location),
                "expected {code} at {location}, got {:#?}",
                e.diagnostics
            );
            e.to_string()
        }
    }
}

/// Expects `Machine::from_definition` to refuse `definition` for `machine_type`.
pub fn rejected_as(definition: Value, machine_type: MachineType) -> String {
    match Machine::from_definition(&definition, machine_type) {
        Ok(_) => panic!("accepted: {definition}"),
        Err(e) => e.to_string(),
    }
}

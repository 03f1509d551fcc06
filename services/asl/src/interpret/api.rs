//! The public face of an execution: what a Task integration receives (`TaskRequest`,
//! `TaskHandler`, `Heartbeat`), the services a run is given, and how it ends (`Outcome`).

use super::clock::{Clock, Rng};
use crate::error::StatesError;
use crate::history::HistoryObserver;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// One call of a Task state, as an integration sees it.
#[derive(Debug)]
pub struct TaskRequest<'a> {
    /// The state's `Resource` ARN.
    pub resource: &'a str,
    /// The effective parameters (after InputPath and Parameters).
    pub input: Value,
    /// The Task state's name.
    pub state_name: &'a str,
    /// The execution's ARN (`$$.Execution.Id`): a callback integration checks that the
    /// token it waits on was minted for this execution.
    pub execution_arn: &'a str,
    /// The callback token, for `.waitForTaskToken` resources.
    pub task_token: Option<String>,
    /// `HeartbeatSeconds`, resolved; the engine enforces it through `heartbeat`.
    pub heartbeat_seconds: Option<u64>,
    /// Where the integration reports signs of life (a callback's `SendTaskHeartbeat`).
    pub heartbeat: Heartbeat,
    /// `Credentials`, as written.
    pub credentials: Option<&'a Value>,
}

/// A task's signs of life: the integration calls `beat` (with its clock's time) whenever the
/// outside world sends a heartbeat; the engine fails the task with `States.HeartbeatTimeout`
/// when `HeartbeatSeconds` pass without one.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    last_ms: Arc<AtomicI64>,
}

impl Heartbeat {
    pub(crate) fn starting_at(now_ms: i64) -> Heartbeat {
        Heartbeat {
            last_ms: Arc::new(AtomicI64::new(now_ms)),
        }
    }

    /// Records a heartbeat at `now_ms` (epoch milliseconds).
    pub fn beat(&self, now_ms: i64) {
        self.last_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    pub(crate) fn last_ms(&self) -> i64 {
        self.last_ms.load(Ordering::Relaxed)
    }
}

/// Runs Task states: the seam between the engine and the outside world.
pub trait TaskHandler: Send + Sync {
    /// Performs one task; the engine applies TimeoutSeconds around the future.
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>>;
}

/// Mints `$$.Task.Token` for `.waitForTaskToken` tasks. The runtime's implementation makes
/// unforgeable tokens (OS randomness, bound to the execution, authenticated with a key the
/// deployment shares); the engine only asks for one, as it has no I/O and no secrets.
pub trait TaskTokens: Send + Sync {
    /// A fresh token for a task of the execution `execution_arn`.
    fn mint(&self, execution_arn: &str) -> String;
}

/// Predictable tokens (`token-1`, `token-2`, …) for tests and benchmarks, where a run must
/// be reproducible. Never for executions anyone can answer: anyone can guess them.
#[derive(Debug, Default)]
pub struct CountingTokens {
    minted: AtomicU64,
}

impl TaskTokens for CountingTokens {
    fn mint(&self, _execution_arn: &str) -> String {
        format!("token-{}", self.minted.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// What an execution is called and where it runs: the context object's `Execution` and
/// `StateMachine` parts. The state machine's parts are the same for all its executions, so
/// a caller may lend them (a worker runs thousands of executions a second of one machine).
#[derive(Debug, Clone, Default)]
pub struct ExecutionInfo<'m> {
    /// `$$.Execution.Id`.
    pub execution_arn: String,
    /// `$$.Execution.Name`.
    pub name: String,
    /// `$$.Execution.RoleArn`.
    pub role_arn: Cow<'m, str>,
    /// `$$.StateMachine.Id`.
    pub state_machine_arn: Cow<'m, str>,
    /// `$$.StateMachine.Name`.
    pub state_machine_name: Cow<'m, str>,
    /// `$$.Execution.RedriveCount`; Express executions have none (`None`).
    pub redrive_count: Option<u64>,
}

/// The outside world, for one execution.
pub struct Services<'a> {
    /// Runs Task states.
    pub tasks: &'a dyn TaskHandler,
    /// Time: waits, retries, timeouts, timestamps.
    pub clock: &'a dyn Clock,
    /// Randomness: jitter, `States.UUID`, `$random()`, `$uuid()`.
    pub rng: &'a dyn Rng,
    /// Mints `$$.Task.Token`.
    pub tokens: &'a dyn TaskTokens,
    /// Receives history events; `None` builds none.
    pub history: Option<&'a dyn HistoryObserver>,
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Reached a Succeed state or an End.
    Succeeded,
    /// An uncaught error or a Fail state.
    Failed,
    /// Ran past `TimeoutSeconds` or the Express limit.
    TimedOut,
}

impl Status {
    /// `SUCCEEDED`, `FAILED` or `TIMED_OUT`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
        }
    }
}

/// The result of one execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// The output, when it succeeded.
    pub output: Option<Value>,
    /// The error name, when it failed (absent for a Fail state without `Error`).
    pub error: Option<String>,
    /// The cause, when there is one.
    pub cause: Option<String>,
    /// States entered, for metrics and billing.
    pub state_transitions: u64,
    /// Clock time at start and stop, in epoch milliseconds.
    pub start_ms: i64,
    /// See `start_ms`.
    pub stop_ms: i64,
}

impl Outcome {
    /// `{"status", "output"}` or `{"status", "error", "cause"}`, as `quickstep run` prints it.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("status".into(), self.status.as_str().into());
        if let Some(output) = &self.output {
            map.insert("output".into(), output.clone());
        }
        if let Some(error) = &self.error {
            map.insert("error".into(), error.clone().into());
        }
        if let Some(cause) = &self.cause {
            map.insert("cause".into(), cause.clone().into());
        }
        Value::Object(map)
    }
}

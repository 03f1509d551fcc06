//! The run loop: moves one execution from state to state, applying the JSONPath data flow
//! (InputPath → Parameters → work → ResultSelector → ResultPath → OutputPath), Retry and
//! Catch, and counting history event ids whether or not anyone records the events.

use super::choice::{Condition, Operand, Operator, Rule, Test};
use super::clock::{Clock, Rng};
use super::compile::{
    AtaFields, Branch, Catcher, Count, Jitter, Kind, Machine, MapMode, MapState, ResultPath,
    Selection, State, StateId, Task, TaskEvents, Text, Transition, Wait,
};
use super::spans;
use super::template::{self, Template};
use super::{EXPRESS_MAX_SECONDS, PAYLOAD_LIMIT_BYTES};
use crate::error::{ErrorName, StatesError};
use crate::history::{HistoryEvent, HistoryEventType as Event, HistoryObserver, Level};
use crate::intrinsics::IntrinsicEnv;
use crate::jsonata::{self, Session, Tree};
use crate::path::{Path, Root};
use crate::timestamp;
use futures::future::{self, BoxFuture, Either, FutureExt};
use futures::stream::{self, StreamExt};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// One call of a Task state, as an integration sees it.
#[derive(Debug)]
pub struct TaskRequest<'a> {
    /// The state's `Resource` ARN.
    pub resource: &'a str,
    /// The effective parameters (after InputPath and Parameters).
    pub input: Value,
    /// The Task state's name.
    pub state_name: &'a str,
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
    fn starting_at(now_ms: i64) -> Heartbeat {
        Heartbeat {
            last_ms: Arc::new(AtomicI64::new(now_ms)),
        }
    }

    /// Records a heartbeat at `now_ms` (epoch milliseconds).
    pub fn beat(&self, now_ms: i64) {
        self.last_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    fn last_ms(&self) -> i64 {
        self.last_ms.load(Ordering::Relaxed)
    }
}

/// Runs Task states: the seam between the engine and the outside world.
pub trait TaskHandler: Send + Sync {
    /// Performs one task; the engine applies TimeoutSeconds around the future.
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>>;
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
    /// Randomness: task tokens, jitter, `States.UUID`.
    pub rng: &'a dyn Rng,
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

impl Machine {
    /// Runs one execution to its end. Never panics on any input: failures are outcomes.
    pub async fn run(
        &self,
        input: Value,
        info: &ExecutionInfo<'_>,
        services: &Services<'_>,
    ) -> Outcome {
        let start_ms = services.clock.now_ms();
        let kept_input = self.reads_execution_input.then(|| input.clone());
        let run = Run {
            services,
            info,
            execution_input: kept_input.as_ref().unwrap_or(&Value::Null),
            start_ms,
            event_ids: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            history: services.history.filter(|h| h.level() != Level::Off),
            inspect: None,
        };
        let started = run.event(
            0,
            Event::ExecutionStarted,
            || json!({"input": input, "roleArn": info.role_arn}),
        );
        let limit = self
            .timeout_seconds
            .unwrap_or(EXPRESS_MAX_SECONDS)
            .min(EXPRESS_MAX_SECONDS);
        let body = async {
            if !fits(&input, PAYLOAD_LIMIT_BYTES) {
                return Err(StatesError::data_limit(
                    "The execution input exceeds the maximum number of bytes service limit.",
                ));
            }
            run.branch(&self.root, input, Vars::default(), started)
                .await
        };
        let mut body = std::pin::pin!(body);
        // An execution whose states await nothing ends in its first poll, so the timer is
        // only set when that poll does not finish: setting it (a boxed sleep, a clock
        // handle) cost a tenth of such an execution. It still counts from the start.
        let ended = match futures::poll!(body.as_mut()) {
            Poll::Ready(result) => Ok(result),
            Poll::Pending => {
                let elapsed_ms = services.clock.now_ms().saturating_sub(start_ms).max(0);
                let left = Duration::from_secs(limit)
                    .saturating_sub(Duration::from_millis(elapsed_ms as u64));
                match future::select(body, services.clock.sleep(left)).await {
                    Either::Left((result, _)) => Ok(result),
                    Either::Right(_) => Err(()),
                }
            }
        };
        let ended = match ended {
            Ok(result) => result.map(|(output, _)| output).map_err(Some),
            Err(()) => Err(None),
        };
        let last = run.event_ids.load(Ordering::Relaxed);
        let (status, output, error, cause) = match ended {
            Ok(output) => {
                run.event(
                    last,
                    Event::ExecutionSucceeded,
                    || json!({"output": output}),
                );
                (Status::Succeeded, Some(output), None, None)
            }
            Err(Some(failure)) => {
                run.event(last, Event::ExecutionFailed, || failure_details(&failure));
                let error = Some(failure.name.as_str().to_owned()).filter(|e| !e.is_empty());
                // DescribeExecution leaves out an empty cause.
                (
                    Status::Failed,
                    None,
                    error,
                    failure.cause.filter(|c| !c.is_empty()),
                )
            }
            Err(None) => {
                run.event(
                    last,
                    Event::ExecutionTimedOut,
                    || json!({"error": "States.Timeout"}),
                );
                // AWS reports a timed-out execution with no error (test_global_timeout).
                (Status::TimedOut, None, None, None)
            }
        };
        Outcome {
            status,
            output,
            error,
            cause,
            state_transitions: run.transitions.load(Ordering::Relaxed),
            start_ms,
            stop_ms: services.clock.now_ms(),
        }
    }
}

fn failure_details(failure: &StatesError) -> Value {
    let mut map = Map::new();
    if !failure.name.as_str().is_empty() {
        map.insert("error".into(), failure.name.as_str().into());
    }
    if let Some(cause) = &failure.cause {
        map.insert("cause".into(), cause.clone().into());
    }
    Value::Object(map)
}

/// Whether a value's serialized size is at most `limit` bytes. Most payloads are far below
/// the limits, and a bound on the size costs a walk without formatting a number or
/// scanning a string for escapes — serializing each Pass result to count its bytes was a
/// twentieth of the order machine's time. Only a bound above the limit is checked exactly.
#[inline]
pub(crate) fn fits(value: &Value, limit: usize) -> bool {
    size_bound(value) <= limit || json_size(value) <= limit
}

/// An upper bound on `json_size`: a string's byte escaped as `\u00XX` takes 6 characters,
/// a number at most 24 (`-1.7976931348623157e308`).
fn size_bound(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().fold(2 + items.len(), |sum, item| {
            sum.saturating_add(member_bound(item))
        }),
        Value::Object(map) => map.iter().fold(2 + 2 * map.len(), |sum, (key, item)| {
            sum.saturating_add(string_bound(key))
                .saturating_add(member_bound(item))
        }),
        scalar => member_bound(scalar),
    }
}

/// `size_bound` of a member, without a call for the scalars most members are.
#[inline]
fn member_bound(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 24,
        Value::String(s) => string_bound(s),
        container => size_bound(container),
    }
}

fn string_bound(s: &str) -> usize {
    2 + 6 * s.len()
}

/// The compact JSON text of a value (an execution's output, as results carry it), keys in
/// their order. Through `serde_json::to_string`, which writes into one buffer: `Value`'s
/// `Display` hands the formatter one small piece at a time, several times slower.
pub fn json_text(value: &Value) -> String {
    // Cannot fail: a `Value`'s keys are strings and its numbers finite.
    serde_json::to_string(value).unwrap_or_default()
}

/// The serialized size of a value, without building the text.
pub(crate) fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).expect("writing to a counter cannot fail");
    counter.0
}

/// Workflow variables: this scope's own, over a read-only snapshot of the enclosing scope
/// (Map and Parallel branches read outer variables but their assignments stay inside).
#[derive(Debug, Clone, Default)]
struct Vars {
    outer: Option<Arc<Vars>>,
    own: HashMap<String, Value>,
}

impl Vars {
    fn get(&self, name: &str) -> Option<&Value> {
        self.own
            .get(name)
            .or_else(|| self.outer.as_ref().and_then(|o| o.get(name)))
    }

    fn inner(outer: &Arc<Vars>) -> Vars {
        Vars {
            outer: Some(outer.clone()),
            own: HashMap::new(),
        }
    }
}

/// Where a state stands, for the context object and error messages.
#[derive(Clone, Copy)]
struct StateContext<'a> {
    name: &'a str,
    entered_event_id: u64,
    /// `None` for a state that awaits nothing: then it is the clock's time now.
    entered_time_ms: Option<i64>,
    retry_count: u64,
    retriable: bool,
    task_token: Option<&'a str>,
    map_item: Option<(usize, &'a Value)>,
}

struct Run<'a> {
    services: &'a Services<'a>,
    info: &'a ExecutionInfo<'a>,
    execution_input: &'a Value,
    start_ms: i64,
    event_ids: AtomicU64,
    transitions: AtomicU64,
    history: Option<&'a dyn HistoryObserver>,
    /// TestState's record of the data flow; `None` in executions.
    /// Only the tested state itself is recorded, not the states inside a Map or Parallel.
    inspect: Option<(&'a std::sync::Mutex<Map<String, Value>>, &'a State)>,
}

/// How a state hands on: to a state of the same branch, or out of the branch.
/// A state's input after InputPath and Parameters/Arguments.
struct Prepared<'r> {
    selected: Cow<'r, Value>,
    parameters: Option<Value>,
}

impl Prepared<'_> {
    /// What the state's kind works on: the parameters, else the selected input.
    fn effective(&self) -> &Value {
        self.parameters.as_ref().unwrap_or(&self.selected)
    }
}

/// What a state's kind did.
struct Worked<'s> {
    /// What it produced; `None` for kinds that pass their effective input on.
    result: Option<Value>,
    next: Transition,
    /// The JSONata Choice Rule that matched: its Output and Assign apply.
    chosen_rule: Option<&'s Condition>,
}

impl Worked<'_> {
    fn result(result: Value, next: Transition) -> Self {
        Worked {
            result: Some(result),
            next,
            chosen_rule: None,
        }
    }

    fn passed(next: Transition) -> Self {
        Worked {
            result: None,
            next,
            chosen_rule: None,
        }
    }
}

enum Step {
    Next(StateId, Value),
    End(Value),
}

/// Everything a path may read while one state evaluates.
struct Scope<'s> {
    run: &'s Run<'s>,
    input: &'s Value,
    vars: &'s Vars,
    state: &'s StateContext<'s>,
}

impl Scope<'_> {
    /// The context object (`$$`).
    fn context_object(&self) -> Value {
        let mut context = self.context_object_without_input();
        context["Execution"]["Input"] = self.run.execution_input.clone();
        context
    }

    /// The context object less `Execution.Input`, for paths that cannot reach it.
    fn context_object_without_input(&self) -> Value {
        let state = self.state;
        let info = self.run.info;
        let mut context = json!({
            "Execution": {
                "Id": info.execution_arn,
                "Name": info.name,
                "RoleArn": info.role_arn,
                "StartTime": timestamp::format(self.run.start_ms),
            },
            "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
            "State": {
                "Name": state.name,
                "EnteredTime": timestamp::format(
                    state
                        .entered_time_ms
                        .unwrap_or_else(|| self.run.services.clock.now_ms())
                ),
            },
        });
        if let Some(redrives) = info.redrive_count {
            context["Execution"]["RedriveCount"] = redrives.into();
        }
        // Only states that can retry carry a RetryCount (conformance: test_output_path[$$]).
        if state.retriable {
            context["State"]["RetryCount"] = state.retry_count.into();
        }
        if let Some(token) = state.task_token {
            context["Task"] = json!({"Token": token});
        }
        if let Some((index, value)) = state.map_item {
            context["Map"] = json!({"Item": {"Index": index, "Value": value}});
        }
        context
    }

    /// Selects with a path from the input, the context object or a variable. Inlined for
    /// the common `$…` path; the others build or look up their root first.
    #[inline]
    fn select(&self, path: &Path) -> Result<Cow<'_, Value>, Selected> {
        match path.root() {
            Root::Input => path.select(self.input).map_err(Selected::Missing),
            _ => self.select_elsewhere(path),
        }
    }

    /// `select` for paths from the context object or a variable.
    fn select_elsewhere(&self, path: &Path) -> Result<Cow<'_, Value>, Selected> {
        match path.root() {
            Root::Input => path.select(self.input).map_err(Selected::Missing),
            Root::Context => {
                // Copying the execution input into every `$$` lookup made a Map's
                // ItemSelector quadratic; include it only for paths that can reach it.
                let text = path.as_str();
                let context = if text == "$$" || text.contains("Execution") {
                    self.context_object()
                } else {
                    self.context_object_without_input()
                };
                path.select(&context)
                    .map(|v| Cow::Owned(v.into_owned()))
                    .map_err(Selected::Missing)
            }
            Root::Variable(name) => match self.vars.get(name) {
                Some(value) => path.select(value).map_err(Selected::Missing),
                None => Err(Selected::Undefined(name.clone())),
            },
        }
    }

    fn runtime(&self, detail: impl std::fmt::Display) -> StatesError {
        self.run.runtime(self.state, detail)
    }

    /// A path that must select something, with AWS's message when it does not.
    fn require(&self, path: &Path, field: &str) -> Result<Cow<'_, Value>, StatesError> {
        self.select(path).map_err(|e| match e {
            Selected::Missing(_) => self.runtime(format!(
                "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
                path.as_str(),
                field,
                self.input
            )),
            Selected::Undefined(name) => self.undefined(&name),
        })
    }

    /// Runs JSONata evaluations for this state; `result` and `error_output` are
    /// `$states.result` and `$states.errorOutput`. Synchronous: nothing of the evaluator's
    /// outlives the call.
    fn ata<R>(
        &self,
        result: Option<&Value>,
        error_output: Option<&Value>,
        f: impl FnOnce(&Session<'_>) -> R,
    ) -> R {
        let host = AtaHost {
            scope: self,
            result,
            error_output,
        };
        f(&Session::new(&host))
    }

    fn undefined(&self, name: &str) -> StatesError {
        self.runtime(format!("The variable '{name}' is not defined."))
    }

    fn build(&self, template: &Template) -> Result<Value, StatesError> {
        template::build(template, &mut |leaf| match leaf {
            Template::Path { field, path } => self.require(path, field).map(Cow::into_owned),
            Template::Call(call) => {
                let mut env = CallEnv { scope: self };
                call.eval(&mut env)
            }
            _ => unreachable!("build only hands dynamic leaves to the resolver"),
        })
    }

    fn text(&self, text: &Text, field: &str) -> Result<String, StatesError> {
        let value = match text {
            Text::Literal(s) => return Ok(s.clone()),
            Text::Path(path) => self.select(path).map(Cow::into_owned).map_err(|e| match e {
                Selected::Missing(_) => self.runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                    path.as_str(),
                    self.input
                )),
                Selected::Undefined(name) => self.undefined(&name),
            })?,
            Text::Call(call) => call.eval(&mut CallEnv { scope: self })?,
            Text::Expr(expr) => {
                let field = field.strip_suffix("Path").unwrap_or(field);
                return self.ata(None, None, |s| {
                    let value = s.value(expr, field)?;
                    match value {
                        Value::String(text) => Ok(text),
                        other => Err(s.unexpected(expr, field, "string", &other)),
                    }
                });
            }
        };
        match value {
            Value::String(s) => Ok(s),
            other => Err(self.runtime(format!(
                "The value for the field '{field}' must be a STRING, but was {other}"
            ))),
        }
    }
}

/// What JSONata reads while one state evaluates.
struct AtaHost<'s> {
    scope: &'s Scope<'s>,
    result: Option<&'s Value>,
    error_output: Option<&'s Value>,
}

impl jsonata::Host for AtaHost<'_> {
    fn input(&self) -> &Value {
        self.scope.input
    }

    fn result(&self) -> Option<&Value> {
        self.result
    }

    fn error_output(&self) -> Option<&Value> {
        self.error_output
    }

    fn context(&self) -> Value {
        self.scope.context_object()
    }

    fn variable(&self, name: &str) -> Option<&Value> {
        self.scope.vars.get(name)
    }

    fn random_u64(&self) -> u64 {
        self.scope.run.services.rng.next_u64()
    }

    fn fail(&self, field: &str, detail: String) -> StatesError {
        let run = self.scope.run;
        let state = self.scope.state;
        let error = StatesError::new(
            ErrorName::QueryEvaluationError,
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {detail}",
                state.name, state.entered_event_id
            ),
        );
        run.event(run.last_event(), Event::EvaluationFailed, || {
            json!({
                "error": error.name.as_str(),
                "cause": error.cause,
                "location": field,
                "state": state.name,
            })
        });
        error
    }
}

enum Selected {
    Missing(crate::path::Missing),
    Undefined(String),
}

struct CallEnv<'s> {
    scope: &'s Scope<'s>,
}

impl IntrinsicEnv for CallEnv<'_> {
    fn resolve(&self, path: &Path) -> Result<Value, StatesError> {
        self.scope
            .select(path)
            .map(Cow::into_owned)
            .map_err(|e| match e {
                Selected::Missing(_) => self.scope.runtime(format!(
                    "The JSONPath '{}' could not be found in the input '{}'",
                    path.as_str(),
                    self.scope.input
                )),
                Selected::Undefined(name) => self.scope.undefined(&name),
            })
    }

    fn random_u64(&mut self) -> u64 {
        self.scope.run.services.rng.next_u64()
    }
}

fn entered(kind: &Kind) -> (Event, Event) {
    match kind {
        Kind::Pass { .. } => (Event::PassStateEntered, Event::PassStateExited),
        Kind::Task(_) => (Event::TaskStateEntered, Event::TaskStateExited),
        Kind::Choice { .. } => (Event::ChoiceStateEntered, Event::ChoiceStateExited),
        Kind::Wait(_) => (Event::WaitStateEntered, Event::WaitStateExited),
        Kind::Succeed => (Event::SucceedStateEntered, Event::SucceedStateExited),
        Kind::Fail { .. } => (Event::FailStateEntered, Event::FailStateEntered),
        Kind::Parallel { .. } => (Event::ParallelStateEntered, Event::ParallelStateExited),
        Kind::Map(_) => (Event::MapStateEntered, Event::MapStateExited),
    }
}

/// How many Pass/Choice transitions run between yields to the executor: often enough for a
/// timeout to fire in a loop, rarely enough to cost nothing on a straight chain.
const TRANSITIONS_PER_YIELD: u32 = 64;

impl<'a> Run<'a> {
    /// Records a step of the data flow for TestState's inspection data. Inlined so that
    /// executions, which inspect nothing, pay one test per call.
    #[inline]
    fn inspect(&self, state: &State, key: &str, value: &Value) {
        if self.inspect.is_some() {
            self.record_inspection(state, key, value);
        }
    }

    fn record_inspection(&self, state: &State, key: &str, value: &Value) {
        if let Some((inspect, _)) = self.inspect.filter(|(_, s)| std::ptr::eq(*s, state)) {
            inspect
                .lock()
                .expect("inspection lock is never poisoned")
                .insert(key.to_owned(), value.clone());
        }
    }

    /// Counts an event and, when someone listens at a level that admits it, builds it.
    /// Inlined so that an execution without history pays for the count alone.
    #[inline]
    fn event(&self, previous: u64, event_type: Event, details: impl FnOnce() -> Value) -> u64 {
        let id = self.event_ids.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(history) = self.history {
            self.record(history, id, previous, event_type, details);
        }
        id
    }

    fn record(
        &self,
        history: &dyn HistoryObserver,
        id: u64,
        previous: u64,
        event_type: Event,
        details: impl FnOnce() -> Value,
    ) {
        if history.level().admits(event_type) {
            let mut details = details();
            if !history.include_execution_data() {
                if let Value::Object(map) = &mut details {
                    map.remove("input");
                    map.remove("output");
                }
            }
            history.record(HistoryEvent {
                id,
                previous_event_id: previous,
                event_timestamp_ms: self.services.clock.now_ms(),
                event_type,
                details,
            });
        }
    }

    fn runtime(&self, state: &StateContext<'_>, detail: impl std::fmt::Display) -> StatesError {
        StatesError::runtime(format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
            state.name, state.entered_event_id, detail
        ))
    }

    /// `branch`, boxed: Parallel and Map run branches inside a state, and a future cannot
    /// contain itself.
    fn run_branch<'b>(
        &'b self,
        branch: &'b Branch,
        input: Value,
        vars: Vars,
        previous: u64,
    ) -> BoxFuture<'b, Result<(Value, u64), StatesError>> {
        self.branch(branch, input, vars, previous).boxed()
    }

    /// Runs a branch from its start to its end; returns the output and the last event id.
    async fn branch(
        &self,
        branch: &Branch,
        input: Value,
        mut vars: Vars,
        mut previous: u64,
    ) -> Result<(Value, u64), StatesError> {
        let mut current = branch.start;
        let mut transitions_since_yield = 0u32;
        let mut input = input;
        loop {
            let state = &branch.states[current];
            self.transitions.fetch_add(1, Ordering::Relaxed);
            let (entered_type, exited_type) = entered(&state.kind);
            let entered_id = self.event(
                previous,
                entered_type,
                || json!({"name": state.name, "input": input}),
            );
            let runs_now = Self::runs_now(state);
            let context = StateContext {
                name: &state.name,
                entered_event_id: entered_id,
                // A state that awaits nothing enters and leaves within one poll: its
                // entered time is read only if `$$` asks for it.
                entered_time_ms: (!runs_now).then(|| self.services.clock.now_ms()),
                retry_count: 0,
                retriable: matches!(
                    state.kind,
                    Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_)
                ),
                task_token: None,
                map_item: None,
            };
            let span = spans::state(state);
            let step = if runs_now {
                spans::now(&span, || {
                    self.attempt_now(state, Cow::Owned(input), &mut vars, &context)
                })
            } else {
                // Boxed: the branch future then holds a pointer, not the largest state
                // kind's future.
                Box::pin(spans::within(&span, || {
                    self.run_state(state, input, &mut vars, context)
                }))
                .await
            }
            .inspect_err(|error| spans::failed(&span, error))?;
            if matches!(state.kind, Kind::Fail { .. }) {
                unreachable!("a Fail state always ends in an error");
            }
            let output = match &step {
                Step::Next(_, output) | Step::End(output) => output,
            };
            previous = self.event(
                self.event_ids.load(Ordering::Relaxed),
                exited_type,
                || json!({"name": state.name, "output": output}),
            );
            match step {
                Step::Next(next, output) => {
                    current = next;
                    input = output;
                    // A loop of Pass and Choice states awaits nothing else: yield now and
                    // then, so the executor can still fire the execution's timeout.
                    transitions_since_yield += 1;
                    if transitions_since_yield == TRANSITIONS_PER_YIELD {
                        transitions_since_yield = 0;
                        YieldNow(false).await;
                    }
                }
                Step::End(output) => return Ok((output, previous)),
            }
        }
    }

    /// One state, with its Retry and Catch.
    async fn run_state(
        &self,
        state: &State,
        raw: Value,
        vars: &mut Vars,
        mut context: StateContext<'_>,
    ) -> Result<Step, StatesError> {
        if state.retry.is_empty() && state.catch.is_empty() {
            return self.attempt(state, Cow::Owned(raw), vars, &context).await;
        }
        let mut attempts = vec![0u64; state.retry.len()];
        loop {
            let error = match self
                .attempt(state, Cow::Borrowed(&raw), vars, &context)
                .await
            {
                Ok(step) => return Ok(step),
                Err(error) => error,
            };
            if error.name == ErrorName::Runtime {
                return Err(error);
            }
            let retrier = state
                .retry
                .iter()
                .position(|r| r.errors.iter().any(|e| e.matches(&error.name)));
            if let Some(index) = retrier {
                let retrier = &state.retry[index];
                if attempts[index] < retrier.max_attempts {
                    let mut delay = retrier.interval_seconds
                        * retrier.backoff_rate.powi(attempts[index] as i32);
                    if let Some(max) = retrier.max_delay_seconds {
                        delay = delay.min(max);
                    }
                    if retrier.jitter == Jitter::Full {
                        let unit =
                            (self.services.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                        delay *= unit;
                    }
                    attempts[index] += 1;
                    context.retry_count += 1;
                    self.services
                        .clock
                        .sleep(Duration::from_secs_f64(delay.clamp(0.0, 1e9)))
                        .await;
                    continue;
                }
            }
            let Some(catcher) = state
                .catch
                .iter()
                .find(|c| c.errors.iter().any(|e| e.matches(&error.name)))
            else {
                return Err(error);
            };
            return self.catch(catcher, raw, vars, &context, error);
        }
    }

    fn catch(
        &self,
        catcher: &Catcher,
        raw: Value,
        vars: &mut Vars,
        context: &StateContext<'_>,
        error: StatesError,
    ) -> Result<Step, StatesError> {
        let error_output = error.to_output();
        if let Some(ata) = &catcher.ata {
            let scope = Scope {
                run: self,
                input: &raw,
                vars,
                state: context,
            };
            let (output, assigned) = scope.ata(None, Some(&error_output), |s| {
                let output = match &ata.output {
                    Some(tree) => s.build(tree)?,
                    None => error_output.clone(),
                };
                let assigned = ata.assign.as_ref().map(|t| s.build(t)).transpose()?;
                Ok::<_, StatesError>((output, assigned))
            })?;
            if let Some(values) = assigned {
                self.apply_assign(vars, values, context)?;
            }
            return Ok(Step::Next(catcher.next, output));
        }
        if let Some(assign) = &catcher.assign {
            let scope = Scope {
                run: self,
                input: &error_output,
                vars,
                state: context,
            };
            let values = scope.build(assign)?;
            apply_assign(vars, values);
        }
        let output =
            self.apply_result_path(&catcher.result_path, Cow::Owned(raw), error_output, context)?;
        Ok(Step::Next(catcher.next, output))
    }

    /// Combines the raw input and the result; the input is copied only when it is kept.
    fn apply_result_path(
        &self,
        result_path: &ResultPath,
        raw: Cow<'_, Value>,
        result: Value,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        match result_path {
            ResultPath::Replace => Ok(result),
            ResultPath::Discard => Ok(raw.into_owned()),
            ResultPath::At(path) => {
                let mut target = raw.into_owned();
                let text = path.as_str();
                path.assign(&mut target, result).map_err(|missing| {
                    self.runtime(
                        context,
                        format!("Invalid path '{text}' : {}", missing.message()),
                    )
                })?;
                Ok(target)
            }
        }
    }

    /// InputPath or OutputPath. Inlined for the common `$`, which selects the value itself.
    #[inline]
    fn select_input<'v>(
        &self,
        selection: &Selection,
        value: &'v Value,
        context: &StateContext<'_>,
        vars: &Vars,
    ) -> Result<Cow<'v, Value>, StatesError> {
        match selection {
            Selection::Whole => Ok(Cow::Borrowed(value)),
            Selection::Discard => Ok(Cow::Owned(Value::Object(Map::new()))),
            Selection::Path(path) => self.select_path(path, value, context, vars),
        }
    }

    fn select_path<'v>(
        &self,
        path: &Path,
        value: &'v Value,
        context: &StateContext<'_>,
        vars: &Vars,
    ) -> Result<Cow<'v, Value>, StatesError> {
        let scope = Scope {
            run: self,
            input: value,
            vars,
            state: context,
        };
        let invalid = |detail: String| {
            self.runtime(
                context,
                format!("Invalid path '{}' : {detail}", path.as_str()),
            )
        };
        match path.root() {
            Root::Input => path.select(value).map_err(|m| invalid(m.message())),
            _ => scope
                .select(path)
                .map(|v| Cow::Owned(v.into_owned()))
                .map_err(|e| match e {
                    Selected::Missing(m) => invalid(m.message()),
                    Selected::Undefined(name) => scope.undefined(&name),
                }),
        }
    }

    /// One try of a state: its data flow and its work.
    /// `raw` is owned when no Retry or Catch needs it afterwards, so it can become the
    /// output without a copy.
    async fn attempt(
        &self,
        state: &State,
        raw: Cow<'_, Value>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Step, StatesError> {
        // A callback task's token must exist before Parameters can read `$$.Task.Token`.
        let token = match &state.kind {
            Kind::Task(task) if task.wait_for_token => Some(self.task_token()),
            _ => None,
        };
        let context = &StateContext {
            task_token: token.as_deref(),
            ..*context
        };
        let prepared = self.prepare(state, &raw, vars, context)?;
        let effective = prepared.effective();
        let worked = match &state.kind {
            Kind::Task(task) => Worked::result(
                self.task(task, state, &prepared.selected, effective, vars, context)
                    .await?,
                state.transition,
            ),
            Kind::Wait(wait) => {
                let scope = Scope {
                    run: self,
                    input: effective,
                    vars,
                    state: context,
                };
                let duration = self.wait_duration(wait, &scope)?;
                self.services.clock.sleep(duration).await;
                Worked::passed(state.transition)
            }
            Kind::Parallel { branches } => {
                let outer = Arc::new(vars.clone());
                let entered = context.entered_event_id;
                let started = self.event(entered, Event::ParallelStateStarted, || json!({}));
                let runs = branches.iter().map(|branch| {
                    self.run_branch(branch, effective.clone(), Vars::inner(&outer), started)
                        .map(|r| r.map(|(output, _)| output))
                });
                let outputs = match future::try_join_all(runs).await {
                    Ok(outputs) => outputs,
                    Err(error) => {
                        self.event(self.last_event(), Event::ParallelStateFailed, || {
                            failure_details(&error)
                        });
                        return Err(error);
                    }
                };
                self.event(self.last_event(), Event::ParallelStateSucceeded, || {
                    json!({})
                });
                Worked::result(Value::Array(outputs), state.transition)
            }
            Kind::Map(map) => Worked::result(
                self.map(map, state, effective, vars, context).await?,
                state.transition,
            ),
            Kind::Pass { .. } | Kind::Choice { .. } | Kind::Succeed | Kind::Fail { .. } => {
                self.work_now(state, effective, vars, context)?
            }
        };
        let settled = self.settle(state, &prepared, &worked, vars, context)?;
        // Ends its borrow of the raw input, which `finish` may then move.
        drop(prepared);
        self.finish(state, raw, worked, settled, vars, context)
    }

    /// Whether a state's work awaits nothing (Pass, Choice, Succeed, Fail): such a state
    /// runs through `attempt_now` without building the `attempt` future, whose size is that
    /// of the largest state kind and whose moves dominated a Pass state's cost.
    fn runs_now(state: &State) -> bool {
        matches!(
            state.kind,
            Kind::Pass { .. } | Kind::Choice { .. } | Kind::Succeed | Kind::Fail { .. }
        ) && state.retry.is_empty()
            && state.catch.is_empty()
    }

    /// `attempt` for a state that `runs_now`.
    fn attempt_now(
        &self,
        state: &State,
        raw: Cow<'_, Value>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Step, StatesError> {
        // `prepared` borrows the raw input, which `finish` may move: it ends with this
        // block, dropped in place (`drop(prepared)` copied it first).
        let (worked, settled) = {
            let mut prepared = self.prepare(state, &raw, vars, context)?;
            let worked = match (&state.kind, prepared.parameters.take()) {
                // A Pass without Result passes its parameters on: moved, not copied.
                (Kind::Pass { result: None, .. }, Some(parameters)) => {
                    Worked::result(parameters, state.transition)
                }
                (_, parameters) => {
                    prepared.parameters = parameters;
                    self.work_now(state, prepared.effective(), vars, context)?
                }
            };
            let settled = self.settle(state, &prepared, &worked, vars, context)?;
            (worked, settled)
        };
        self.finish(state, raw, worked, settled, vars, context)
    }

    /// InputPath, then Parameters (JSONPath) or Arguments (JSONata).
    #[inline]
    fn prepare<'r>(
        &self,
        state: &State,
        raw: &'r Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Prepared<'r>, StatesError> {
        let selected = self.select_input(&state.input_path, raw, context, vars)?;
        self.inspect(state, "afterInputPath", &selected);
        let ata = state.ata.as_deref();
        let scope = Scope {
            run: self,
            input: &selected,
            vars,
            state: context,
        };
        let parameters = match (&state.parameters, ata.and_then(|a| a.arguments.as_ref())) {
            (Some(parameters), _) => Some(scope.build(parameters)?),
            (None, Some(arguments)) => Some(scope.ata(None, None, |s| s.build(arguments))?),
            (None, None) => None,
        };
        if let Some(parameters) = &parameters {
            self.inspect(
                state,
                if ata.is_some() {
                    "afterArguments"
                } else {
                    "afterParameters"
                },
                parameters,
            );
        }
        Ok(Prepared {
            selected,
            parameters,
        })
    }

    /// The work of the state kinds that await nothing.
    #[inline]
    fn work_now<'s>(
        &self,
        state: &'s State,
        effective: &Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Worked<'s>, StatesError> {
        let scope = Scope {
            run: self,
            input: effective,
            vars,
            state: context,
        };
        match &state.kind {
            Kind::Pass { result, .. } => {
                let result = match result {
                    Some(result) => result.clone(),
                    None => effective.clone(),
                };
                Ok(Worked::result(result, state.transition))
            }
            Kind::Choice { rules, default } => {
                for (rule, next) in rules {
                    if self.matches(rule, &scope)? {
                        let chosen_rule = match rule {
                            Rule::Condition(condition) => Some(&**condition),
                            _ => None,
                        };
                        return Ok(Worked {
                            result: None,
                            next: Transition::Next(*next),
                            chosen_rule,
                        });
                    }
                }
                match default {
                    Some(next) => Ok(Worked::passed(Transition::Next(*next))),
                    None => Err(StatesError::bare(ErrorName::NoChoiceMatched)),
                }
            }
            Kind::Succeed => Ok(Worked::passed(Transition::End)),
            Kind::Fail { error, cause } => {
                let error = error
                    .as_ref()
                    .map(|e| scope.text(e, "ErrorPath"))
                    .transpose()?;
                let cause = cause
                    .as_ref()
                    .map(|c| scope.text(c, "CausePath"))
                    .transpose()?;
                Err(StatesError {
                    name: ErrorName::parse(error.as_deref().unwrap_or("")),
                    cause,
                })
            }
            Kind::Task(_) | Kind::Wait(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                unreachable!("awaiting state kinds are worked in `attempt`")
            }
        }
    }

    /// What still needs the effective input once the work is done: for a JSONPath state
    /// without a result (Choice, Wait, Succeed), Assign and OutputPath apply to it. `None`:
    /// the output is the raw input (or comes from the result, in `finish`). Borrowed, not
    /// consumed: moving `Prepared` (two values) in was a copy per state.
    #[inline]
    fn settle(
        &self,
        state: &State,
        prepared: &Prepared<'_>,
        worked: &Worked<'_>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Option<Value>, StatesError> {
        if state.ata.is_some() || worked.result.is_some() {
            return Ok(None);
        }
        let effective = prepared.effective();
        self.assign(state, effective, vars, context)?;
        let passes_through = prepared.parameters.is_none()
            && matches!(state.input_path, Selection::Whole)
            && matches!(state.output_path, Selection::Whole);
        if passes_through {
            return Ok(None);
        }
        Ok(Some(
            self.select_input(&state.output_path, effective, context, vars)?
                .into_owned(),
        ))
    }

    /// ResultSelector, Assign, ResultPath and OutputPath (JSONPath) or Output and Assign
    /// (JSONata): the state's output and where it goes.
    #[inline]
    fn finish(
        &self,
        state: &State,
        raw: Cow<'_, Value>,
        worked: Worked<'_>,
        settled: Option<Value>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Step, StatesError> {
        let Worked {
            result,
            next,
            chosen_rule,
        } = worked;
        let step = |output| match next {
            Transition::Next(id) => Step::Next(id, output),
            Transition::End => Step::End(output),
        };
        if let Some(ata) = state.ata.as_deref() {
            // JSONata: Output (default: the result, or the input) and Assign, both on the
            // variables as they were before this state.
            let states_result = match state.kind {
                Kind::Task(_) | Kind::Map(_) | Kind::Parallel { .. } => result.as_ref(),
                _ => None,
            };
            if let (Some(result), Kind::Task(_)) = (&result, &state.kind) {
                self.check_result_size(state, result)?;
            }
            let output = self.finish_ata(
                ata,
                chosen_rule,
                &raw,
                states_result,
                result.as_ref().unwrap_or(&raw),
                vars,
                context,
            )?;
            return Ok(step(output));
        }
        let Some(result) = result else {
            // Choice, Wait, Succeed: `settle` assigned and applied OutputPath, unless the
            // effective input is the raw input.
            return Ok(step(settled.unwrap_or_else(|| raw.into_owned())));
        };
        let checked = match &state.kind {
            Kind::Pass { result_fits, .. } => *result_fits,
            Kind::Task(_) => false,
            _ => true,
        };
        if !checked {
            self.check_result_size(state, &result)?;
        }
        self.inspect(state, "result", &result);
        let result = match &state.result_selector {
            Some(selector) => Scope {
                run: self,
                input: &result,
                vars,
                state: context,
            }
            .build(selector)?,
            None => result,
        };
        self.inspect(state, "afterResultSelector", &result);
        self.assign(state, &result, vars, context)?;
        let combined = self.apply_result_path(&state.result_path, raw, result, context)?;
        self.inspect(state, "afterResultPath", &combined);
        let output = match &state.output_path {
            Selection::Whole => combined,
            selection => self
                .select_input(selection, &combined, context, vars)?
                .into_owned(),
        };
        Ok(step(output))
    }

    /// A Pass or Task result over the payload limit fails the state.
    fn check_result_size(&self, state: &State, result: &Value) -> Result<(), StatesError> {
        if fits(result, PAYLOAD_LIMIT_BYTES) {
            return Ok(());
        }
        // AWS names a Pass state by its name, a Task by its resource,
        // and an optimised integration (`arn:aws:states:::lambda:invoke`) by its service.
        let culprit = match &state.kind {
            Kind::Task(task) => match task.resource.strip_prefix("arn:aws:states:::") {
                Some(rest) => rest.split(':').next().unwrap_or(rest),
                None => &task.resource,
            },
            _ => &state.name,
        };
        Err(StatesError::data_limit(format!(
            "The state/task '{culprit}' returned a result with a size exceeding the maximum number of bytes service limit."
        )))
    }

    /// The end of a JSONata state: evaluates Output and Assign (a matched Choice Rule's
    /// own override the state's) on `$states.input` = `raw` and `$states.result`, with the
    /// variables from before the state, then assigns. Returns the state's output.
    #[allow(clippy::too_many_arguments)]
    fn finish_ata(
        &self,
        ata: &AtaFields,
        rule: Option<&Condition>,
        raw: &Value,
        states_result: Option<&Value>,
        default_output: &Value,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        let scope = Scope {
            run: self,
            input: raw,
            vars,
            state: context,
        };
        let output_tree = rule.and_then(|r| r.output.as_ref()).or(ata.output.as_ref());
        let assigns: Vec<&Tree> = [ata.assign.as_ref(), rule.and_then(|r| r.assign.as_ref())]
            .into_iter()
            .flatten()
            .collect();
        let (output, assigned) = scope.ata(states_result, None, |s| {
            let output = match output_tree {
                Some(tree) => s.build(tree)?,
                None => default_output.clone(),
            };
            let mut assigned = Vec::with_capacity(assigns.len());
            for tree in assigns {
                assigned.push(s.build(tree)?);
            }
            Ok::<_, StatesError>((output, assigned))
        })?;
        for values in assigned {
            self.apply_assign(vars, values, context)?;
        }
        Ok(output)
    }

    /// Sets the variables of one `Assign`, within AWS's size limit for one state.
    fn apply_assign(
        &self,
        vars: &mut Vars,
        values: Value,
        context: &StateContext<'_>,
    ) -> Result<(), StatesError> {
        if !fits(&values, ASSIGN_LIMIT_BYTES) {
            return Err(self.runtime(
                context,
                "The assigned variables exceed the maximum size of 262144 bytes for one state.",
            ));
        }
        apply_assign(vars, values);
        Ok(())
    }

    fn last_event(&self) -> u64 {
        self.event_ids.load(Ordering::Relaxed)
    }

    /// JSONPath `Assign`: every value is computed from the variables as they were before
    /// this state, then all are set at once.
    fn assign(
        &self,
        state: &State,
        input: &Value,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<(), StatesError> {
        if let Some(assign) = &state.assign {
            let values = Scope {
                run: self,
                input,
                vars,
                state: context,
            }
            .build(assign)?;
            apply_assign(vars, values);
        }
        Ok(())
    }

    fn matches(&self, rule: &Rule, scope: &Scope<'_>) -> Result<bool, StatesError> {
        Ok(match rule {
            Rule::And(rules) => {
                for rule in rules {
                    if !self.matches(rule, scope)? {
                        return Ok(false);
                    }
                }
                true
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if self.matches(rule, scope)? {
                        return Ok(true);
                    }
                }
                false
            }
            Rule::Not(rule) => !self.matches(rule, scope)?,
            Rule::Condition(condition) => match &condition.test {
                Test::Literal(b) => *b,
                Test::Expr(expr) => {
                    scope.ata(None, None, |s| match s.value(expr, "Condition")? {
                        Value::Bool(b) => Ok(b),
                        other => Err(s.unexpected(expr, "Condition", "boolean", &other)),
                    })?
                }
            },
            Rule::Compare {
                variable,
                operator,
                operand,
            } => {
                // Only the `Is…` tests may look at a Variable that selects nothing; any
                // other comparison fails the execution (AWS, "Choice workflow state": "If
                // the state input doesn't contain the `$.type` field, the execution fails").
                // `IsPresent` also answers for a variable that was never assigned.
                let value = match scope.select(variable) {
                    Ok(value) => Some(value),
                    Err(Selected::Missing(_)) if operator.is_test() => None,
                    Err(Selected::Undefined(_)) if *operator == Operator::IsPresent => None,
                    Err(Selected::Missing(_)) => {
                        return Err(scope.runtime(format!(
                            "Invalid path '{}': The choice state's condition path references an invalid value.",
                            variable.as_str()
                        )))
                    }
                    Err(Selected::Undefined(name)) => return Err(scope.undefined(&name)),
                };
                let operand = match operand {
                    Operand::Value(v) => Cow::Borrowed(v),
                    Operand::Path(path) => match scope.select(path) {
                        Ok(v) => v,
                        Err(Selected::Missing(_)) => {
                            return Err(scope.runtime(format!(
                                "Invalid path '{}': The choice state's condition path references an invalid value.",
                                path.as_str()
                            )))
                        }
                        Err(Selected::Undefined(name)) => return Err(scope.undefined(&name)),
                    },
                };
                operator.apply(value.as_deref(), &operand)
            }
        })
    }

    fn wait_duration(&self, wait: &Wait, scope: &Scope<'_>) -> Result<Duration, StatesError> {
        // AWS (Wait workflow state): "if you specify the wait time as a timestamp, Step
        // Functions considers the time value up to seconds and truncates milliseconds."
        let until = |ms: i64| {
            let ms = ms - ms.rem_euclid(1000);
            Duration::from_millis(ms.saturating_sub(self.services.clock.now_ms()).max(0) as u64)
        };
        match wait {
            Wait::Seconds(seconds) => Ok(Duration::from_secs(seconds.as_u64().unwrap_or(0))),
            Wait::SecondsPath(path) => {
                let value = scope.select(path).map_err(|_| {
                    scope.runtime(format!(
                        "The SecondsPath parameter does not reference an input value: {}",
                        path.as_str()
                    ))
                })?;
                match value.as_u64() {
                    Some(seconds) => Ok(Duration::from_secs(seconds)),
                    None if value.as_i64().is_some() => Ok(Duration::ZERO),
                    None => Err(scope.runtime(format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                        path.as_str(),
                        value
                    ))),
                }
            }
            Wait::Timestamp(text) => Ok(until(timestamp::parse(text).unwrap_or(0))),
            Wait::SecondsExpr(expr) => scope.ata(None, None, |s| {
                let value = s.value(expr, "Seconds")?;
                match value.as_u64() {
                    Some(seconds) => Ok(Duration::from_secs(seconds)),
                    None if value.as_i64().is_some() => Ok(Duration::ZERO),
                    None => Err(s.unexpected(expr, "Seconds", "integer", &value)),
                }
            }),
            Wait::TimestampExpr(expr) => scope.ata(None, None, |s| {
                let value = s.value(expr, "Timestamp")?;
                match value.as_str().and_then(timestamp::parse) {
                    Some(ms) => Ok(until(ms)),
                    None => Err(StatesError::new(
                        ErrorName::QueryEvaluationError,
                        scope.runtime(format!(
                            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                            display_raw(&value)
                        )).cause.unwrap_or_default(),
                    )),
                }
            }),
            Wait::TimestampPath(path) => {
                let value = scope.select(path).map_err(|_| {
                    scope.runtime(format!(
                        "The TimestampPath parameter does not reference an input value: {}",
                        path.as_str()
                    ))
                })?;
                match value.as_str().and_then(timestamp::parse) {
                    Some(ms) => Ok(until(ms)),
                    None => Err(scope.runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                        path.as_str(),
                        value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
                    ))),
                }
            }
        }
    }

    /// Resolves a `…Seconds` / `…SecondsPath` count to a positive integer.
    fn count(&self, count: &Count, scope: &Scope<'_>, field: &str) -> Result<Value, StatesError> {
        match count {
            Count::Literal(v) => Ok(v.clone()),
            Count::Expr(expr) => scope.ata(None, None, |s| s.value(expr, field)),
            Count::Path(path) => scope.select(path).map(Cow::into_owned).map_err(|_| {
                scope.runtime(format!(
                    "The {field}Path field could not be found in the input: {}",
                    path.as_str()
                ))
            }),
        }
    }

    /// `selected` is the input after InputPath, which the `…Path` fields read; `input` is
    /// after Parameters, what the integration receives.
    async fn task(
        &self,
        task: &Task,
        state: &State,
        selected: &Value,
        input: &Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        let scope = Scope {
            run: self,
            input: selected,
            vars,
            state: context,
        };
        let timeout = task
            .timeout
            .as_ref()
            .map(|c| self.count(c, &scope, "TimeoutSeconds"))
            .transpose()?;
        let heartbeat = task
            .heartbeat
            .as_ref()
            .map(|c| self.count(c, &scope, "HeartbeatSeconds"))
            .transpose()?;
        // AWS (Handling errors, States.DataLimitExceeded): also reported when "the input of
        // a state is larger than the payload size quota after Parameters processing".
        if !fits(input, PAYLOAD_LIMIT_BYTES) {
            return Err(StatesError::data_limit(format!(
                "The state/task '{}' has an input with a size exceeding the maximum number of bytes service limit.",
                state.name
            )));
        }
        let (scheduled, started, succeeded, failed, timed_out) = match task.events {
            TaskEvents::Lambda => (
                Event::LambdaFunctionScheduled,
                Event::LambdaFunctionStarted,
                Event::LambdaFunctionSucceeded,
                Event::LambdaFunctionFailed,
                Event::LambdaFunctionTimedOut,
            ),
            TaskEvents::Task => (
                Event::TaskScheduled,
                Event::TaskStarted,
                Event::TaskSucceeded,
                Event::TaskFailed,
                Event::TaskTimedOut,
            ),
        };
        let id = self.event(
            context.entered_event_id,
            scheduled,
            || json!({"resource": task.resource, "parameters": input}),
        );
        let id = self.event(id, started, || json!({"resource": task.resource}));
        let heartbeat_seconds = heartbeat.as_ref().and_then(Value::as_u64);
        let clock = self.services.clock;
        let signs_of_life = Heartbeat::starting_at(clock.now_ms());
        let request = TaskRequest {
            resource: &task.resource,
            input: input.clone(),
            state_name: &state.name,
            task_token: context.task_token.map(str::to_owned),
            heartbeat_seconds,
            heartbeat: signs_of_life.clone(),
            credentials: task.credentials.as_ref(),
        };
        let span = spans::task(&task.resource, state);
        let call = spans::within(&span, || self.services.tasks.invoke(request));
        // AWS reports both limits with an empty cause (conformance: test_invoke_timeout).
        let timeout = match timeout.as_ref().and_then(Value::as_f64) {
            Some(seconds) => clock
                .sleep(Duration::from_secs_f64(seconds.clamp(0.0, 1e9)))
                .map(|_| StatesError::new(ErrorName::Timeout, ""))
                .boxed(),
            None => future::pending().boxed(),
        };
        let silence = match heartbeat_seconds {
            Some(seconds) => async move {
                let allowed_ms = seconds.saturating_mul(1000) as i64;
                loop {
                    let deadline = signs_of_life.last_ms().saturating_add(allowed_ms);
                    let now = clock.now_ms();
                    if now >= deadline {
                        return StatesError::new(ErrorName::HeartbeatTimeout, "");
                    }
                    clock
                        .sleep(Duration::from_millis((deadline - now) as u64))
                        .await;
                }
            }
            .boxed(),
            None => future::pending().boxed(),
        };
        let limit = future::select(timeout, silence).map(|either| either.factor_first().0);
        let result = match future::select(call, limit).await {
            Either::Left((result, _)) => result,
            Either::Right((error, _)) => {
                spans::failed(&span, &error);
                self.event(id, timed_out, || failure_details(&error));
                return Err(error);
            }
        };
        match result {
            Ok(output) => {
                self.event(id, succeeded, || json!({"output": output}));
                Ok(output)
            }
            Err(error) => {
                spans::failed(&span, &error);
                self.event(id, failed, || failure_details(&error));
                Err(error)
            }
        }
    }

    fn task_token(&self) -> String {
        let rng = self.services.rng;
        format!(
            "{:016x}{:016x}{:016x}{:016x}",
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64()
        )
    }

    async fn map(
        &self,
        map: &MapState,
        state: &State,
        input: &Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        let scope = Scope {
            run: self,
            input,
            vars,
            state: context,
        };
        let items = match (&map.items, &map.items_path) {
            (Some(tree), _) => {
                let items = scope.ata(None, None, |s| {
                    let items = s.build(tree)?;
                    match (tree.as_expr(), &items) {
                        (Some(expr), value) if !value.is_array() => {
                            Err(s.unexpected(expr, "Items", "array", value))
                        }
                        _ => Ok(items),
                    }
                })?;
                Cow::Owned(items)
            }
            (None, None) if state.ata.is_some() && !input.is_array() => {
                return Err(StatesError::new(
                    ErrorName::QueryEvaluationError,
                    scope
                        .runtime(format!("Map state input must be an array but was: {input}"))
                        .cause
                        .unwrap_or_default(),
                ));
            }
            (None, None) => Cow::Borrowed(input),
            (None, Some(path)) => scope.select(path).map_err(|_| {
                scope.runtime(format!(
                    "Invalid path '{}' : No results for path: {}",
                    path.as_str(),
                    path.render_jayway()
                ))
            })?,
        };
        let Value::Array(items) = items.as_ref() else {
            return Err(scope.runtime(format!(
                "Item reader result is not an array: {}",
                items.as_ref()
            )));
        };
        let max_concurrency = match &map.max_concurrency {
            None => 0,
            Some(count) => {
                let value = self.count(count, &scope, "MaxConcurrency")?;
                match integer(&value) {
                    Some(n) if n >= 0 => n as usize,
                    _ => {
                        let Count::Path(path) = count else {
                            return Err(
                                scope.runtime("MaxConcurrency must be a non-negative integer.")
                            );
                        };
                        return Err(scope.runtime(format!(
                            "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {}",
                            display_raw(&value),
                            path.as_str()
                        )));
                    }
                }
            }
        };
        let (tolerated_count, tolerated_percentage) = self.tolerance(map, &scope)?;
        // Each item's input: ItemSelector with `$$.Map.Item`, or the item itself.
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let item_input = match (&map.item_selector, &map.ata_item_selector) {
                (None, None) => item.clone(),
                (_, Some(selector)) => {
                    let item_context = StateContext {
                        map_item: Some((index, item)),
                        task_token: None,
                        ..*context
                    };
                    Scope {
                        run: self,
                        input,
                        vars,
                        state: &item_context,
                    }
                    .ata(None, None, |s| s.build(selector))?
                }
                (Some(selector), None) => {
                    let item_context = StateContext {
                        name: context.name,
                        entered_event_id: context.entered_event_id,
                        entered_time_ms: context.entered_time_ms,
                        retry_count: context.retry_count,
                        retriable: context.retriable,
                        task_token: None,
                        map_item: Some((index, item)),
                    };
                    Scope {
                        run: self,
                        input,
                        vars,
                        state: &item_context,
                    }
                    .build(selector)?
                }
            };
            inputs.push(item_input);
        }
        if let Some(batcher) = &map.batcher {
            inputs = self.batch(batcher, inputs, &scope)?;
        }
        let started = self.event(
            context.entered_event_id,
            Event::MapStateStarted,
            || json!({"length": inputs.len()}),
        );
        let outer = Arc::new(vars.clone());
        let limit = if max_concurrency == 0 {
            inputs.len().max(1)
        } else {
            max_concurrency
        };
        let total = inputs.len();
        let iterations = inputs.into_iter().enumerate().map(|(index, item_input)| {
            let outer = &outer;
            async move {
                let id = self.event(
                    started,
                    Event::MapIterationStarted,
                    || json!({"index": index, "name": state.name}),
                );
                let result = self
                    .run_branch(&map.processor, item_input, Vars::inner(outer), id)
                    .await;
                match &result {
                    Ok(_) => self.event(
                        self.last_event(),
                        Event::MapIterationSucceeded,
                        || json!({"index": index, "name": state.name}),
                    ),
                    Err(error) => self.event(self.last_event(), Event::MapIterationFailed, || {
                        let mut details = failure_details(error);
                        details["index"] = json!(index);
                        details
                    }),
                };
                result.map(|(output, _)| output)
            }
        });
        let mut results = stream::iter(iterations).buffered(limit);
        let mut outputs = Vec::with_capacity(total);
        let mut failures = 0usize;
        while let Some(result) = results.next().await {
            match result {
                Ok(output) => outputs.push(output),
                Err(error) if map.mode == MapMode::Inline => {
                    self.event(self.last_event(), Event::MapStateFailed, || {
                        failure_details(&error)
                    });
                    return Err(error);
                }
                Err(error) => {
                    failures += 1;
                    let over_count = failures as f64 > tolerated_count;
                    let over_percentage =
                        (failures as f64) * 100.0 / (total.max(1) as f64) > tolerated_percentage;
                    // Either threshold, once exceeded, fails the Map Run; an unset one is
                    // infinite (AWS DescribeMapRun: ToleratedFailureCount is "the maximum
                    // number of failed items before the Map Run fails").
                    if over_count || over_percentage {
                        drop(error);
                        let error = StatesError::new(
                            ErrorName::ExceedToleratedFailureThreshold,
                            "The specified tolerated failure threshold was exceeded",
                        );
                        self.event(self.last_event(), Event::MapStateFailed, || {
                            failure_details(&error)
                        });
                        return Err(error);
                    }
                    outputs.push(error.to_output());
                }
            }
        }
        self.event(self.last_event(), Event::MapStateSucceeded, || json!({}));
        Ok(Value::Array(outputs))
    }

    /// `ToleratedFailureCount(Path)` and `ToleratedFailurePercentage(Path)`, checked as AWS does.
    fn tolerance(&self, map: &MapState, scope: &Scope<'_>) -> Result<(f64, f64), StatesError> {
        let count = match &map.tolerated_failure_count {
            None => 0.0,
            Some(count) => {
                let value = self.count(count, scope, "ToleratedFailureCount")?;
                match integer(&value) {
                    Some(n) if n < 0 => return Err(scope.runtime("ToleratedFailureCount cannot be negative.")),
                    Some(n) => n as f64,
                    None => {
                        return Err(scope.runtime(match count {
                            Count::Path(path) => format!(
                                "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {}",
                                display_raw(&value),
                                path.as_str()
                            ),
                            Count::Literal(_) | Count::Expr(_) => "ToleratedFailureCount must be an integer.".to_owned(),
                        }))
                    }
                }
            }
        };
        let percentage = match &map.tolerated_failure_percentage {
            None => 0.0,
            Some(count) => {
                let value = self.count(count, scope, "ToleratedFailurePercentage")?;
                match float(&value) {
                    Some(p) if !(0.0..=100.0).contains(&p) => {
                        return Err(scope.runtime("ToleratedFailurePercentage must be between 0 and 100."))
                    }
                    Some(p) => p,
                    None => {
                        return Err(scope.runtime(match count {
                            Count::Path(path) => format!(
                                "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {}",
                                display_raw(&value),
                                path.as_str()
                            ),
                            Count::Literal(_) | Count::Expr(_) => "ToleratedFailurePercentage must be a number.".to_owned(),
                        }))
                    }
                }
            }
        };
        // With neither set, a distributed Map tolerates no failure; with one set, only it counts.
        Ok(
            match (
                &map.tolerated_failure_count,
                &map.tolerated_failure_percentage,
            ) {
                (Some(_), None) => (count, f64::INFINITY),
                (None, Some(_)) => (f64::INFINITY, percentage),
                _ => (count, percentage),
            },
        )
    }

    fn batch(
        &self,
        batcher: &super::compile::ItemBatcher,
        items: Vec<Value>,
        scope: &Scope<'_>,
    ) -> Result<Vec<Value>, StatesError> {
        let max_items = match &batcher.max_items {
            None => usize::MAX,
            Some(count) => self
                .count(count, scope, "MaxItemsPerBatch")?
                .as_u64()
                .unwrap_or(u64::MAX)
                .max(1) as usize,
        };
        let max_bytes = match &batcher.max_input_bytes {
            None => PAYLOAD_LIMIT_BYTES,
            Some(count) => self
                .count(count, scope, "MaxInputBytesPerBatch")?
                .as_u64()
                .unwrap_or(0)
                .max(1) as usize,
        };
        let batch_input = batcher
            .batch_input
            .as_ref()
            .map(|t| scope.build(t))
            .transpose()?;
        let mut batches = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut bytes = 0;
        for item in items {
            let size = json_size(&item);
            if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
                batches.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(item);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        Ok(batches
            .into_iter()
            .map(|items| {
                let mut map = Map::new();
                if let Some(input) = &batch_input {
                    map.insert("BatchInput".into(), input.clone());
                }
                map.insert("Items".into(), Value::Array(items));
                Value::Object(map)
            })
            .collect())
    }
}

/// AWS's limit on the variables one state assigns, in bytes (256 KiB).
const ASSIGN_LIMIT_BYTES: usize = 262_144;

/// An integer as the `…Path` fields accept it: a JSON integer or a string holding one.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number as the `…Path` fields accept it: a JSON number or a string holding one.
fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value as AWS quotes it in messages: strings without their JSON quotes.
fn display_raw(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn apply_assign(vars: &mut Vars, values: Value) {
    if let Value::Object(map) = values {
        for (name, value) in map {
            vars.own.insert(name, value);
        }
    }
}

/// How a TestState call ended, as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    /// The state completed.
    Succeeded,
    /// The state failed and nothing handles the error.
    Failed,
    /// A Catch handled the error.
    CaughtError,
    /// A Retry would run the state again.
    Retriable,
}

impl TestStatus {
    /// `SUCCEEDED`, `FAILED`, `CAUGHT_ERROR` or `RETRIABLE`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TestStatus::Succeeded => "SUCCEEDED",
            TestStatus::Failed => "FAILED",
            TestStatus::CaughtError => "CAUGHT_ERROR",
            TestStatus::Retriable => "RETRIABLE",
        }
    }
}

/// What TestState runs: one top-level state of a machine, with its input.
#[derive(Debug, Clone, Default)]
pub struct TestStateInput {
    /// The state's name in the machine.
    pub state_name: String,
    /// The state's input.
    pub input: Value,
    /// Workflow variables visible to the state.
    pub variables: Map<String, Value>,
    /// Retries already made (`stateConfiguration.retrierRetryCount`).
    pub retrier_retry_count: u64,
}

/// What one state did.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateOutcome {
    /// How it ended.
    pub status: TestStatus,
    /// The state's output (SUCCEEDED, CAUGHT_ERROR).
    pub output: Option<Value>,
    /// The error (FAILED, CAUGHT_ERROR, RETRIABLE).
    pub error: Option<String>,
    /// The cause, when there is one.
    pub cause: Option<String>,
    /// The state that would run next.
    pub next_state: Option<String>,
    /// The data flow step by step: `input`, `afterInputPath`, `afterParameters` (or
    /// `afterArguments`), `result`, `afterResultSelector`, `afterResultPath`, `variables`.
    pub inspection: Map<String, Value>,
}

impl Machine {
    /// The names of the machine's top-level states.
    pub fn state_names(&self) -> Vec<&str> {
        self.root.states.iter().map(|s| s.name.as_str()).collect()
    }

    /// Runs one top-level state once, as TestState does: no Retry wait (a matching retrier
    /// with attempts left is `RETRIABLE`), Catch applied (`CAUGHT_ERROR`). `None` when the
    /// machine has no such state.
    pub async fn test_state(
        &self,
        request: TestStateInput,
        info: &ExecutionInfo<'_>,
        services: &Services<'_>,
    ) -> Option<TestStateOutcome> {
        let index = self
            .root
            .states
            .iter()
            .position(|s| s.name == request.state_name)?;
        let state = &self.root.states[index];
        let start_ms = services.clock.now_ms();
        let inspect = std::sync::Mutex::new(Map::new());
        let run = Run {
            services,
            info,
            execution_input: &request.input,
            start_ms,
            event_ids: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            history: None,
            inspect: Some((&inspect, state)),
        };
        run.inspect(state, "input", &request.input);
        let mut vars = Vars {
            outer: None,
            own: request.variables.into_iter().collect(),
        };
        let context = StateContext {
            name: &state.name,
            entered_event_id: 0,
            entered_time_ms: Some(start_ms),
            retry_count: request.retrier_retry_count,
            retriable: matches!(
                state.kind,
                Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_)
            ),
            task_token: None,
            map_item: None,
        };
        let name_of = |id: StateId| self.root.states[id].name.clone();
        let raw = request.input.clone();
        let mut outcome = match run
            .attempt(state, Cow::Borrowed(&raw), &mut vars, &context)
            .await
        {
            Ok(Step::Next(next, output)) => TestStateOutcome {
                status: TestStatus::Succeeded,
                output: Some(output),
                error: None,
                cause: None,
                next_state: Some(name_of(next)),
                inspection: Map::new(),
            },
            Ok(Step::End(output)) => TestStateOutcome {
                status: TestStatus::Succeeded,
                output: Some(output),
                error: None,
                cause: None,
                next_state: None,
                inspection: Map::new(),
            },
            Err(error) => {
                let failed = |error: &StatesError| TestStateOutcome {
                    status: TestStatus::Failed,
                    output: None,
                    error: Some(error.name.as_str().to_owned()).filter(|e| !e.is_empty()),
                    cause: error.cause.clone().filter(|c| !c.is_empty()),
                    next_state: None,
                    inspection: Map::new(),
                };
                let retriable = error.name != ErrorName::Runtime
                    && state
                        .retry
                        .iter()
                        .find(|r| r.errors.iter().any(|e| e.matches(&error.name)))
                        .is_some_and(|r| request.retrier_retry_count < r.max_attempts);
                let catcher = state
                    .catch
                    .iter()
                    .find(|c| c.errors.iter().any(|e| e.matches(&error.name)));
                if retriable {
                    TestStateOutcome {
                        status: TestStatus::Retriable,
                        ..failed(&error)
                    }
                } else if let (Some(catcher), false) = (catcher, error.name == ErrorName::Runtime) {
                    match run.catch(catcher, raw, &mut vars, &context, error.clone()) {
                        Ok(Step::Next(next, output)) => TestStateOutcome {
                            status: TestStatus::CaughtError,
                            output: Some(output),
                            next_state: Some(name_of(next)),
                            ..failed(&error)
                        },
                        Ok(Step::End(output)) => TestStateOutcome {
                            status: TestStatus::CaughtError,
                            output: Some(output),
                            ..failed(&error)
                        },
                        Err(error) => failed(&error),
                    }
                } else {
                    failed(&error)
                }
            }
        };
        let mut inspection = inspect
            .into_inner()
            .expect("inspection lock is never poisoned");
        if !vars.own.is_empty() {
            let variables: Map<String, Value> = vars.own.into_iter().collect();
            inspection.insert("variables".into(), Value::Object(variables));
        }
        outcome.inspection = inspection;
        Some(outcome)
    }
}

/// Returns `Pending` once, waking itself at once: lets the executor poll other futures.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpret::{SplitMix64, VirtualClock};
    use std::future::Future;
    use std::sync::mpsc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    #[test]
    fn the_size_bound_is_never_below_the_size_and_fits_is_exact() {
        let values = [
            json!(null),
            json!(true),
            json!(-1.7976931348623157e308),
            json!(u64::MAX),
            json!("\u{1}\"\\ plain é 中"),
            json!({"k\n": [1, {"a": "\u{7f}"}], "": {}}),
            json!([[], [[]], ""]),
        ];
        for value in &values {
            let size = json_size(value);
            assert!(size_bound(value) >= size, "{value}: bound below {size}");
            assert!(fits(value, size), "{value} fits its own size");
            assert!(!fits(value, size - 1), "{value} does not fit one byte less");
        }
    }

    #[test]
    fn json_text_is_the_compact_text_in_key_order() {
        let value = json!({"z": 1, "a": [1.5, -0.0, "q\"\n", null], "m": {"é": true}});
        assert_eq!(
            json_text(&value),
            "{\"z\":1,\"a\":[1.5,-0.0,\"q\\\"\\n\",null],\"m\":{\"é\":true}}"
        );
        assert_eq!(json_text(&value), value.to_string());
        assert_eq!(json_size(&value), json_text(&value).len());
    }

    struct NoTasks;

    impl TaskHandler for NoTasks {
        fn invoke<'a>(&'a self, _: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
            Box::pin(async { Err(StatesError::new(ErrorName::TaskFailed, "no tasks")) })
        }
    }

    /// Regression (fuzz target `definition`): a Choice/Pass loop never yielded, so one poll
    /// of the execution never returned and its TimeoutSeconds (or the Express limit) could
    /// never fire; `quickstep run` hung for ever.
    #[test]
    fn a_pass_choice_loop_yields_to_the_executor() {
        let (done, polled) = mpsc::channel();
        std::thread::spawn(move || {
            let machine = Machine::compile(&json!({
                "TimeoutSeconds": 1,
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Choice",
                          "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "C"}],
                          "Default": "B"},
                    "B": {"Type": "Pass", "Next": "A"},
                    "C": {"Type": "Succeed"}
                }
            }))
            .expect("compiles");
            let (clock, rng) = (VirtualClock::new(0), SplitMix64::new(1));
            let services = Services {
                tasks: &NoTasks,
                clock: &clock,
                rng: &rng,
                history: None,
            };
            let info = ExecutionInfo::default();
            let mut run = std::pin::pin!(machine.run(json!({}), &info, &services));
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            for _ in 0..1_000 {
                assert!(matches!(run.as_mut().poll(&mut cx), Poll::Pending));
            }
            done.send(()).expect("the test waits");
        });
        polled
            .recv_timeout(Duration::from_secs(30))
            .expect("each poll of a looping execution returns");
    }
}

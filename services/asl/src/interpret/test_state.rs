//! TestState: one state of a machine (top-level or inside a Map or Parallel) run once, with
//! its data flow inspected as AWS reports it, no Retry wait (a retrier with attempts left is
//! RETRIABLE), Catch applied (CAUGHT_ERROR), and mocks standing in for Map and Parallel work.

use super::api::{ExecutionInfo, Services};
use super::compile::{Branch, Kind, Machine, MapState, State, StateId};
use super::retry_catch::Handling;
use super::run::{Run, StateContext, Step};
use super::scope::{Scope, Vars};
use crate::error::{ErrorName, StatesError};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

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
    /// The context object (`context`), whole; `None` builds the usual one.
    pub context: Option<Value>,
    /// A Map's or Parallel's mocked result (or error), standing in for its iterations or
    /// branches. Task states are mocked through the `TaskHandler`.
    pub state_mock: Option<Result<Value, StatesError>>,
    /// Map iterations that failed (`stateConfiguration.mapIterationFailureCount`), checked
    /// against the Map's tolerated failure count and percentage.
    pub map_iteration_failure_count: Option<u64>,
}

/// What a run under test consults: the state under test, its inspection record, and the
/// request's context object and mocks.
pub(crate) struct TestHooks<'a> {
    pub(crate) state: &'a State,
    pub(crate) inspection: Mutex<Map<String, Value>>,
    pub(crate) context: Option<Value>,
    pub(crate) mock: Option<Result<Value, StatesError>>,
    pub(crate) map_iteration_failure_count: Option<u64>,
}

/// What TestState's own context object calls the state under test, whatever its name in
/// the definition (AWS: `$$.State.Name` is "StateName" for a lone state and for a state
/// picked from a whole machine by `stateName`).
pub const TESTED_STATE_NAME: &str = "StateName";

impl TestHooks<'_> {
    /// TestState's context object, where the caller gave none: the state under test is
    /// `TESTED_STATE_NAME`, and a request without `roleArn` has a null `RoleArn`.
    pub(crate) fn default_context(&self, context: &mut Value) {
        if context["State"]["Name"] == self.state.name.as_str() {
            context["State"]["Name"] = TESTED_STATE_NAME.into();
        }
        if context["Execution"]["RoleArn"] == "" {
            context["Execution"]["RoleArn"] = Value::Null;
        }
    }
}

/// The Map's failure threshold, as AWS words its breach.
fn threshold_exceeded() -> StatesError {
    StatesError::new(
        ErrorName::ExceedToleratedFailureThreshold,
        "The specified tolerated failure threshold was exceeded",
    )
}

impl Run<'_> {
    /// A Map under test with a mock: its items are selected (so a bad ItemsPath fails as it
    /// would), its MaxConcurrency and tolerance evaluated and inspected, and the mock is its
    /// result, unless the mocked failures exceed a declared tolerance.
    pub(crate) fn mocked_map(
        &self,
        map: &MapState,
        scope: &Scope<'_>,
        test: &TestHooks<'_>,
        mock: Result<Value, StatesError>,
    ) -> Result<Value, StatesError> {
        let state = test.state;
        let mut selected = None;
        if let Some(path) = &map.items_path {
            let items = scope.select(path).ok().filter(|items| items.is_array());
            let Some(items) = items else {
                // AWS names the path relative to its root: `$$.Execution.Input` is
                // "$.Execution.Input".
                let path = path.as_str();
                let shown = path
                    .strip_prefix('$')
                    .filter(|p| p.starts_with('$'))
                    .unwrap_or(path);
                return Err(StatesError::runtime(format!(
                    "Reference path \"{shown}\" must point to array."
                )));
            };
            self.inspect(state, "afterItemsPath", &items);
            selected = Some(items.into_owned());
        }
        if let Some(tree) = &map.items {
            selected = Some(scope.jsonata(None, None, |s| s.build(tree))?);
        }
        // The items' inputs, as AWS inspects them: after ItemSelector and ItemBatcher.
        let items = selected.or_else(|| scope.input.is_array().then(|| scope.input.clone()));
        if let Some(Value::Array(items)) = items {
            let selecting = map.item_selector.is_some() || map.jsonata_item_selector.is_some();
            let inputs = self.item_inputs(map, &items, scope)?;
            if selecting {
                self.inspect(state, "afterItemSelector", &Value::Array(inputs.clone()));
            }
            if let Some(batcher) = &map.batcher {
                let batches = self.batch(batcher, inputs, scope)?;
                self.inspect(state, "afterItemBatcher", &Value::Array(batches));
            }
        }
        let max_concurrency = self.max_concurrency(map, scope)?;
        self.inspect(state, "maxConcurrency", &json!(max_concurrency));
        let (count, percentage) = self.tolerance(map, scope)?;
        if map.tolerated_failure_count.is_some() {
            self.inspect(state, "toleratedFailureCount", &json!(count as i64));
        }
        if map.tolerated_failure_percentage.is_some() {
            self.inspect(state, "toleratedFailurePercentage", &json!(percentage));
        }
        let result = mock?;
        let failures = test.map_iteration_failure_count.unwrap_or(0) as f64;
        let total = result.as_array().map_or(0, Vec::len).max(1) as f64;
        let over_count = map.tolerated_failure_count.is_some() && failures > count;
        let over_percentage =
            map.tolerated_failure_percentage.is_some() && failures * 100.0 / total > percentage;
        if over_count || over_percentage {
            return Err(threshold_exceeded());
        }
        Ok(result)
    }
}

/// The state named `name` anywhere in `branch` (inside Maps and Parallels too), with the
/// branch that holds it.
fn find<'b>(branch: &'b Branch, name: &str) -> Option<(&'b Branch, usize)> {
    if let Some(index) = branch.states.iter().position(|s| s.name == name) {
        return Some((branch, index));
    }
    branch.states.iter().find_map(|state| match &state.kind {
        Kind::Map(map) => find(&map.processor, name),
        Kind::Parallel { branches } => branches.iter().find_map(|b| find(b, name)),
        _ => None,
    })
}

/// Keeps the inspection data AWS reports for the state's type and query language: JSONata
/// states report no JSONPath steps; a Pass with `Result` skips InputPath and Parameters; a
/// Pass without it reports its parameters (its input when it has none) and no result; Map
/// and Parallel report no raw result (and Parallel no InputPath).
fn shape_inspection(state: &State, data: &mut Map<String, Value>) {
    let drop = |data: &mut Map<String, Value>, keys: &[&str]| {
        for key in keys {
            data.remove(*key);
        }
    };
    match &state.kind {
        Kind::Pass {
            result: Some(_), ..
        } => drop(data, &["afterInputPath", "afterParameters"]),
        Kind::Pass { result: None, .. } => {
            data.remove("result");
            if !data.contains_key("afterParameters") {
                if let Some(selected) = data.get("afterInputPath").cloned() {
                    data.insert("afterParameters".into(), selected);
                }
            }
        }
        Kind::Parallel { .. } => drop(data, &["afterInputPath", "afterParameters", "result"]),
        Kind::Map(_) => drop(data, &["afterParameters", "result"]),
        _ => {}
    }
    if state.jsonata.is_some() {
        drop(
            data,
            &[
                "afterInputPath",
                "afterParameters",
                "afterItemsPath",
                "afterResultSelector",
                "afterResultPath",
            ],
        );
        if !matches!(state.kind, Kind::Task(_)) {
            drop(data, &["afterArguments", "result"]);
        }
    }
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

    /// Whether the machine has a state of that name, at its top level or inside a Map's
    /// ItemProcessor or a Parallel's branch.
    pub fn has_state(&self, name: &str) -> bool {
        find(&self.root, name).is_some()
    }

    /// Runs one state once, as TestState does: no Retry wait (a matching retrier with
    /// attempts left is `RETRIABLE`), Catch applied (`CAUGHT_ERROR`). `None` when the
    /// machine has no such state.
    pub async fn test_state(
        &self,
        request: TestStateInput,
        info: &ExecutionInfo<'_>,
        services: &Services<'_>,
    ) -> Option<TestStateOutcome> {
        let (branch, index) = find(&self.root, &request.state_name)?;
        let state = &branch.states[index];
        let start_ms = services.clock.now_ms();
        let hooks = TestHooks {
            state,
            inspection: Mutex::new(Map::new()),
            context: request.context,
            mock: request.state_mock,
            map_iteration_failure_count: request.map_iteration_failure_count,
        };
        let run = Run {
            services,
            info,
            execution_input: &request.input,
            start_ms,
            event_ids: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            history: None,
            test: Some(&hooks),
            links: Default::default(),
        };
        run.inspect(state, "input", &request.input);
        let mut vars = Vars {
            outer: None,
            own: request.variables.into_iter().collect(),
        };
        let context = StateContext {
            name: &state.name,
            entered_event_id: 0,
            evaluation_after: 0,
            attempt_after: 0,
            entered_time_ms: Some(start_ms),
            retry_count: request.retrier_retry_count,
            retriable: matches!(
                state.kind,
                Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_)
            ),
            task_token: None,
            map_item: None,
        };
        let name_of = |id: StateId| branch.states[id].name.clone();
        let raw = request.input.clone();
        let mut error_details = None;
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
                // The retrier that matches, spent or not: AWS reports its index.
                let retrier = (error.name != ErrorName::Runtime)
                    .then(|| {
                        state
                            .retry
                            .iter()
                            .position(|r| r.errors.iter().any(|e| e.matches(&error.name)))
                    })
                    .flatten();
                if let Some(index) = retrier {
                    error_details = Some(json!({"retryIndex": index}));
                }
                // TestState runs once: the retries already made stand for every retrier's.
                match Handling::of(state, &error, |_| request.retrier_retry_count) {
                    Handling::Retry(index) => {
                        let retrier = &state.retry[index];
                        let mut delay = retrier.interval_seconds
                            * retrier
                                .backoff_rate
                                .powi(request.retrier_retry_count.min(i32::MAX as u64) as i32);
                        if let Some(max) = retrier.max_delay_seconds {
                            delay = delay.min(max);
                        }
                        error_details = Some(json!({
                            "retryBackoffIntervalSeconds": delay.round() as i64,
                            "retryIndex": index,
                        }));
                        TestStateOutcome {
                            status: TestStatus::Retriable,
                            ..failed(&error)
                        }
                    }
                    Handling::Catch(catcher) => {
                        let index = state
                            .catch
                            .iter()
                            .position(|c| std::ptr::eq(c, catcher))
                            .unwrap_or_default();
                        error_details = Some(json!({"catchIndex": index}));
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
                    }
                    Handling::Unhandled => failed(&error),
                }
            }
        };
        let mut inspection = hooks
            .inspection
            .into_inner()
            .expect("inspection lock is never poisoned");
        shape_inspection(state, &mut inspection);
        if let Some(details) = error_details {
            inspection.insert("errorDetails".into(), details);
        }
        if !vars.own.is_empty() {
            let variables: Map<String, Value> = vars.own.into_iter().collect();
            inspection.insert("variables".into(), Value::Object(variables));
        }
        outcome.inspection = inspection;
        Some(outcome)
    }
}

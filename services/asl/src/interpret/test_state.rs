//! TestState: one top-level state run once, with its data flow inspected, no Retry wait
//! (a retrier with attempts left is RETRIABLE) and Catch applied (CAUGHT_ERROR).

use super::api::{ExecutionInfo, Services};
use super::compile::{Kind, Machine, StateId};
use super::retry_catch::Handling;
use super::run::{Run, StateContext, Step};
use super::scope::Vars;
use crate::error::StatesError;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::atomic::AtomicU64;

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
                // TestState runs once: the retries already made stand for every retrier's.
                match Handling::of(state, &error, |_| request.retrier_retry_count) {
                    Handling::Retry(_) => TestStateOutcome {
                        status: TestStatus::Retriable,
                        ..failed(&error)
                    },
                    Handling::Catch(catcher) => {
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

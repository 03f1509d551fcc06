//! Execution: runs one execution request — from a start record (the worker), an API call
//! (the gateway's StartSyncExecution) or the command line (`quickstep run`) — on the engine
//! with the given clock, randomness and task integrations and, when history is on, a
//! collector for its events. One path for every way an execution starts.

use crate::metrics::ExecutionMetrics;
use crate::registry::Revision;
use crate::tasks::trace;
use asl::history::{HistoryEvent, HistoryObserver, Level};
use asl::interpret::{Clock, Rng, TaskTokens};
use asl::{ErrorName, ExecutionInfo, Outcome, Services, Status, TaskHandler};
use futures::FutureExt as _;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use tracing::Instrument as _;

/// The cause of an execution whose engine or integration panicked. Generic on purpose: a
/// panic message may quote the execution's data; the log line names the execution.
pub const PANIC_CAUSE: &str =
    "An internal error occurred while running the execution; it was stopped.";

/// What to run: a revision, its input, and the execution's name and ARN.
#[derive(Debug)]
pub struct ExecutionRequest {
    /// The state machine revision, fixed when the execution was admitted.
    pub revision: Arc<Revision>,
    /// The execution input (taken by the run: `Value::Null` after it).
    pub input: Value,
    /// The execution name.
    pub name: String,
    /// The execution ARN (`Revision::execution_arn`).
    pub execution_arn: String,
    /// The caller's W3C trace context, which the execution's span continues.
    pub traceparent: Option<String>,
    /// Which run of this execution this is, from 1: a start record delivered again after
    /// its worker stopped runs again under the same ARN, as attempt 2 (its history records
    /// say so).
    pub attempt: u32,
}

/// What a request's run produced.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub outcome: Outcome,
    /// Its history, filtered by level (empty when history is off).
    pub history: Vec<HistoryEvent>,
    /// The request's `attempt`, for the history records.
    pub attempt: u32,
}

/// Collects one execution's events in memory until the sink takes them.
struct Collector {
    level: Level,
    include_execution_data: bool,
    events: Mutex<Vec<HistoryEvent>>,
}

impl HistoryObserver for Collector {
    fn level(&self) -> Level {
        self.level
    }
    fn include_execution_data(&self) -> bool {
        self.include_execution_data
    }
    fn record(&self, event: HistoryEvent) {
        // A panic elsewhere in the execution (contained by `execute`) may have poisoned the
        // lock; the events are still whole.
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }
}

/// The execution stage.
pub struct Executor {
    tasks: Arc<dyn TaskHandler>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    tokens: Arc<dyn TaskTokens>,
    metrics: ExecutionMetrics,
    /// The history level, for revisions that set none.
    default_level: Level,
    include_execution_data: bool,
}

impl Executor {
    /// Builds the stage.
    pub fn new(
        tasks: Arc<dyn TaskHandler>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        tokens: Arc<dyn TaskTokens>,
        metrics: ExecutionMetrics,
        default_level: Level,
        include_execution_data: bool,
    ) -> Executor {
        Executor {
            tasks,
            clock,
            rng,
            tokens,
            metrics,
            default_level,
            include_execution_data,
        }
    }

    /// Runs a request to its end. The request is lent, not moved: a worker's stays in the
    /// box admission put it in, so the futures that carry it stay small. Its input is taken.
    pub async fn execute(&self, request: &mut ExecutionRequest) -> Finished {
        let revision = &request.revision;
        let level = revision.level.unwrap_or(self.default_level);
        let collector = (level != Level::Off).then(|| Collector {
            level,
            include_execution_data: self.include_execution_data || revision.include_execution_data,
            events: Mutex::default(),
        });
        // The request lends its ARN and name to the run and takes them back after.
        let info = ExecutionInfo {
            execution_arn: std::mem::take(&mut request.execution_arn),
            name: std::mem::take(&mut request.name),
            role_arn: revision.role_arn.as_str().into(),
            state_machine_arn: revision.arn.as_str().into(),
            state_machine_name: revision.name.as_str().into(),
            redrive_count: None,
        };
        let services = Services {
            tasks: self.tasks.as_ref(),
            clock: self.clock.as_ref(),
            rng: self.rng.as_ref(),
            tokens: self.tokens.as_ref(),
            history: collector.as_ref().map(|c| c as &dyn HistoryObserver),
        };
        let series = self.metrics.machine(&revision.name);
        series.started.inc();
        // Restored when the execution ends, and also when its task is aborted midway (an
        // exactly-once worker stops executions whose outputs can no longer commit).
        let in_flight = InFlight::new(&self.metrics.in_flight);
        let input = std::mem::take(&mut request.input);
        // The execution continues the caller's trace (W3C `traceparent`).
        let traceparent = request.traceparent.take();
        // One span per execution (the engine adds one per state and per task call under it).
        let span = trace::execution_span(&info, traceparent.as_deref());
        // The engine boxes each leg of the run apart (`run_boxed`): an execution parked in a
        // Wait holds its parked state and a sleep, not the largest leg's future, and this
        // future (and the spawned task around it) stays small without a box of its own.
        let start_ms = self.clock.now_ms();
        let run = revision.machine.run_boxed(input, &info, &services);
        // A panic in the engine or an integration ends this execution, not the process or
        // the task that carries it: the caller still gets an outcome to publish, and the
        // gauges above are restored below.
        let outcome = AssertUnwindSafe(trace::with_traceparent(traceparent, run))
            .catch_unwind()
            .instrument(span.clone())
            .await
            .unwrap_or_else(|_| {
                self.metrics.panics.inc();
                tracing::error!(
                    message = "An execution panicked; it ends FAILED with States.Runtime.",
                    execution_arn = %info.execution_arn,
                );
                Outcome {
                    status: Status::Failed,
                    output: None,
                    error: Some(ErrorName::Runtime.to_string()),
                    cause: Some(PANIC_CAUSE.into()),
                    state_transitions: 0,
                    start_ms,
                    stop_ms: self.clock.now_ms(),
                }
            });
        trace::finished(&span, &outcome);
        drop(span);
        drop(in_flight);
        series.finished(outcome.status).inc();
        series
            .duration
            .observe((outcome.stop_ms - outcome.start_ms).max(0) as f64 / 1000.0);
        series.transitions.inc_by(outcome.state_transitions);
        let history = collector
            .map(|c| {
                c.events
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner)
            })
            .unwrap_or_default();
        request.execution_arn = info.execution_arn;
        request.name = info.name;
        Finished {
            outcome,
            history,
            attempt: request.attempt.max(1),
        }
    }
}

/// One execution in the in-flight gauge, for as long as it lives.
struct InFlight<'a>(&'a prometheus::IntGauge);

impl<'a> InFlight<'a> {
    fn new(gauge: &'a prometheus::IntGauge) -> InFlight<'a> {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{system_rng, SystemClock};
    use crate::registry::{Registry, RegistryEntry};
    use crate::task_token::TaskTokenKeys;
    use asl::{StatesError, TaskRequest};
    use futures::future::BoxFuture;

    /// An integration with a bug: it panics, with data in the message.
    struct Panics;

    impl TaskHandler for Panics {
        fn invoke<'a>(
            &'a self,
            request: TaskRequest<'a>,
        ) -> BoxFuture<'a, Result<Value, StatesError>> {
            Box::pin(async move { panic!("secret input {}", request.input) })
        }
    }

    #[tokio::test]
    async fn a_panicking_integration_fails_its_execution_and_restores_the_gauges() {
        let registry = Registry::new("local", "000000000000");
        let revision = registry
            .apply(&RegistryEntry {
                name: "orders".into(),
                definition: r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:local:000000000000:function:f","End":true}}}"#.into(),
                role_arn: String::new(),
                level: Some("ALL".into()),
                include_execution_data: true,
            })
            .expect("valid");
        let metrics = ExecutionMetrics::new();
        let executor = Executor::new(
            Arc::new(Panics),
            Arc::new(SystemClock),
            Arc::new(system_rng()),
            Arc::new(TaskTokenKeys::ephemeral().unwrap()),
            metrics.clone(),
            Level::Off,
            false,
        );
        for round in 1..=2 {
            let mut request = ExecutionRequest {
                execution_arn: registry.execution_arn("orders", "one"),
                name: "one".into(),
                revision: revision.clone(),
                input: serde_json::json!({"card": "4111"}),
                traceparent: None,
                attempt: 1,
            };
            let finished = executor.execute(&mut request).await;
            let outcome = finished.outcome;
            assert_eq!(outcome.status, Status::Failed);
            assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
            assert_eq!(outcome.cause.as_deref(), Some(PANIC_CAUSE));
            assert!(!PANIC_CAUSE.contains("4111"));
            assert_eq!(metrics.panics.get(), round);
            assert_eq!(metrics.in_flight.get(), 0, "the gauge is restored");
            assert_eq!(
                metrics.machine("orders").finished(Status::Failed).get(),
                round
            );
            // The request is whole again for the result record.
            assert_eq!(request.name, "one");
            assert!(request.execution_arn.ends_with(":orders:one"));
            // The history up to the panic is kept (level ALL on this revision).
            assert!(!finished.history.is_empty());
        }
    }

    #[test]
    fn an_execution_s_future_is_small() {
        // What a worker holds for each execution while it waits: the engine parks a Wait
        // in a box of its own, so the execution's future holds no leg of the run inline.
        let registry = Registry::new("local", "000000000000");
        let revision = registry
            .apply(&RegistryEntry {
                name: "orders".into(),
                definition:
                    r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}"#
                        .into(),
                role_arn: String::new(),
                level: None,
                include_execution_data: false,
            })
            .expect("valid");
        let executor = Executor::new(
            Arc::new(Hangs),
            Arc::new(SystemClock),
            Arc::new(system_rng()),
            Arc::new(TaskTokenKeys::ephemeral().unwrap()),
            ExecutionMetrics::new(),
            Level::Off,
            false,
        );
        let mut request = ExecutionRequest {
            execution_arn: registry.execution_arn("orders", "one"),
            name: "one".into(),
            revision,
            input: serde_json::json!({}),
            traceparent: None,
            attempt: 1,
        };
        // 824 bytes in a debug build. (544 before the engine parked its Waits, with the
        // engine's run, 1,144 bytes, in a box of its own for the whole execution; a leg of
        // the run inline would be over 1 KiB here.)
        let size = std::mem::size_of_val(&executor.execute(&mut request));
        eprintln!("execute future: {size} bytes");
        assert!(size <= 1024, "{size} bytes");
    }

    /// An integration that never answers.
    struct Hangs;

    impl TaskHandler for Hangs {
        fn invoke<'a>(
            &'a self,
            _request: TaskRequest<'a>,
        ) -> BoxFuture<'a, Result<Value, StatesError>> {
            Box::pin(futures::future::pending())
        }
    }

    #[tokio::test]
    async fn an_execution_stopped_midway_leaves_the_in_flight_gauge_right() {
        let registry = Registry::new("local", "000000000000");
        let revision = registry
            .apply(&RegistryEntry {
                name: "orders".into(),
                definition: r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:local:000000000000:function:f","End":true}}}"#.into(),
                role_arn: String::new(),
                level: None,
                include_execution_data: false,
            })
            .expect("valid");
        let metrics = ExecutionMetrics::new();
        let executor = Executor::new(
            Arc::new(Hangs),
            Arc::new(SystemClock),
            Arc::new(system_rng()),
            Arc::new(TaskTokenKeys::ephemeral().unwrap()),
            metrics.clone(),
            Level::Off,
            false,
        );
        let mut request = ExecutionRequest {
            execution_arn: registry.execution_arn("orders", "one"),
            name: "one".into(),
            revision,
            input: serde_json::json!({}),
            traceparent: None,
            attempt: 1,
        };
        {
            let mut run = Box::pin(executor.execute(&mut request));
            assert!(futures::poll!(run.as_mut()).is_pending(), "the task hangs");
            assert_eq!(metrics.in_flight.get(), 1);
            // Dropped, as an aborted task drops it.
        }
        assert_eq!(metrics.in_flight.get(), 0, "the gauge is restored");
    }
}

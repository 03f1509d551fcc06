//! Execution: runs one execution request — from a start record (the worker), an API call
//! (the gateway's StartSyncExecution) or the command line (`quickstep run`) — on the engine
//! with the given clock, randomness and task integrations and, when history is on, a
//! collector for its events. One path for every way an execution starts.

use crate::metrics::ExecutionMetrics;
use crate::registry::Revision;
use crate::tasks::trace;
use asl::history::{HistoryEvent, HistoryObserver, Level};
use asl::interpret::{Clock, Rng};
use asl::{ExecutionInfo, Outcome, Services, TaskHandler};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tracing::Instrument as _;

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
        self.events
            .lock()
            .expect("collector lock is never poisoned")
            .push(event);
    }
}

/// The execution stage.
pub struct Executor {
    tasks: Arc<dyn TaskHandler>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
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
        metrics: ExecutionMetrics,
        default_level: Level,
        include_execution_data: bool,
    ) -> Executor {
        Executor {
            tasks,
            clock,
            rng,
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
            history: collector.as_ref().map(|c| c as &dyn HistoryObserver),
        };
        let series = self.metrics.machine(&revision.name);
        series.started.inc();
        self.metrics.in_flight.inc();
        let input = std::mem::take(&mut request.input);
        // The execution continues the caller's trace (W3C `traceparent`).
        let traceparent = request.traceparent.take();
        // One span per execution (the engine adds one per state and per task call under it).
        let span = trace::execution_span(&info, traceparent.as_deref());
        // Boxed: the engine's future is large, and each enclosing future (this one, the
        // spawned task) would otherwise hold it inline and copy it when it moves.
        let run = Box::pin(revision.machine.run(input, &info, &services));
        let outcome = trace::with_traceparent(traceparent, run)
            .instrument(span.clone())
            .await;
        trace::finished(&span, &outcome);
        drop(span);
        self.metrics.in_flight.dec();
        series.finished(outcome.status).inc();
        series
            .duration
            .observe((outcome.stop_ms - outcome.start_ms).max(0) as f64 / 1000.0);
        series.transitions.inc_by(outcome.state_transitions);
        let history = collector
            .map(|c| {
                c.events
                    .into_inner()
                    .expect("collector lock is never poisoned")
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

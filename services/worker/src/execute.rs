//! Execution: runs one admitted job on the engine with the real clock, the worker's task
//! integrations and, when history is on, a collector for its events.

use crate::admit::Job;
use crate::metrics::Metrics;
use crate::tasks::trace;
use asl::history::{HistoryEvent, HistoryObserver, Level};
use asl::interpret::{Clock, Rng};
use asl::{ExecutionInfo, Outcome, Services, TaskHandler};
use std::sync::{Arc, Mutex};
use tracing::Instrument as _;

/// A job that ran, with what it produced.
#[derive(Debug)]
pub struct Finished {
    /// The job, still in the box admission put it in: the futures that carry it stay small.
    pub job: Box<Job>,
    /// How it ended.
    pub outcome: Outcome,
    /// Its history, filtered by level (empty when history is off).
    pub history: Vec<HistoryEvent>,
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
    metrics: Metrics,
    /// The worker's history level, for revisions that set none.
    default_level: Level,
    include_execution_data: bool,
}

impl Executor {
    /// Builds the stage.
    pub fn new(
        tasks: Arc<dyn TaskHandler>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        metrics: Metrics,
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

    /// Runs a job to its end.
    pub async fn execute(&self, mut job: Box<Job>) -> Finished {
        let revision = &job.revision;
        let level = revision.level.unwrap_or(self.default_level);
        let collector = (level != Level::Off).then(|| Collector {
            level,
            include_execution_data: self.include_execution_data || revision.include_execution_data,
            events: Mutex::default(),
        });
        // The job lends its ARN and name to the run and takes them back after.
        let info = ExecutionInfo {
            execution_arn: std::mem::take(&mut job.execution_arn),
            name: std::mem::take(&mut job.name),
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
        let input = std::mem::take(&mut job.input);
        // The execution continues the start record's trace (W3C `traceparent`).
        let traceparent = job
            .record
            .headers
            .iter()
            .rev()
            .find(|(name, _)| name.eq_ignore_ascii_case("traceparent"))
            .and_then(|(_, value)| String::from_utf8(value.clone()).ok());
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
        job.execution_arn = info.execution_arn;
        job.name = info.name;
        Finished {
            job,
            outcome,
            history,
        }
    }
}

//! The execution metrics every runner of executions exports — the worker and the gateway's
//! StartSyncExecution alike — named `quickstep_worker_<what>_<unit>[_total]` (the names
//! dashboards and alerts already use). Registered once; label values are state machine
//! names and statuses.

use asl::Status;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The execution metric handles, in a registry of their own.
#[derive(Clone)]
pub struct ExecutionMetrics {
    /// The registry these metrics live in.
    pub registry: Registry,
    /// Executions started, by state machine.
    pub executions_started: IntCounterVec,
    /// Executions finished, by state machine and status (SUCCEEDED, FAILED, TIMED_OUT).
    pub executions_finished: IntCounterVec,
    /// Execution duration, by state machine.
    pub execution_duration: HistogramVec,
    /// State transitions, by state machine.
    pub state_transitions: IntCounterVec,
    /// Executions running now.
    pub in_flight: IntGauge,
    /// Executions whose engine or integration panicked (each ended FAILED, States.Runtime).
    pub panics: IntCounter,
    /// Each state machine's execution series, resolved on first use.
    machines: Arc<Mutex<HashMap<String, Arc<MachineSeries>>>>,
}

/// One state machine's execution series, resolved once: a labelled lookup hashes its labels
/// and takes a lock, and every execution touches four of them.
pub struct MachineSeries {
    /// `executions_started`.
    pub started: IntCounter,
    /// `executions_finished`, by status (all three exist from the first execution on).
    finished: [IntCounter; 3],
    /// `execution_duration`.
    pub duration: Histogram,
    /// `state_transitions`.
    pub transitions: IntCounter,
}

impl MachineSeries {
    /// `executions_finished` with `status`.
    pub fn finished(&self, status: Status) -> &IntCounter {
        &self.finished[match status {
            Status::Succeeded => 0,
            Status::Failed => 1,
            Status::TimedOut => 2,
        }]
    }
}

/// Registers `metric` in `registry` and hands it back.
pub fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric registers once");
    metric
}

/// An `IntCounterVec` registered in `registry`.
pub fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        registry,
        IntCounterVec::new(Opts::new(name, help), labels).expect("metric names are valid"),
    )
}

impl ExecutionMetrics {
    /// Registers every execution metric in a fresh registry.
    pub fn new() -> ExecutionMetrics {
        let registry = Registry::new();
        let execution_duration = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "quickstep_worker_execution_duration_seconds",
                    "Execution duration from start to stop.",
                )
                .buckets(vec![
                    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 300.0,
                ]),
                &["state_machine"],
            )
            .expect("metric names are valid"),
        );
        let in_flight = register(
            &registry,
            IntGauge::new(
                "quickstep_worker_executions_in_flight",
                "Executions running now.",
            )
            .expect("metric names are valid"),
        );
        let panics = register(
            &registry,
            IntCounter::new(
                "quickstep_worker_execution_panics_total",
                "Executions stopped by a panic in the engine or an integration; each ended FAILED with States.Runtime.",
            )
            .expect("metric names are valid"),
        );
        ExecutionMetrics {
            panics,
            executions_started: counter_vec(
                &registry,
                "quickstep_worker_executions_started_total",
                "Executions started.",
                &["state_machine"],
            ),
            executions_finished: counter_vec(
                &registry,
                "quickstep_worker_executions_finished_total",
                "Executions finished, by status (SUCCEEDED, FAILED, TIMED_OUT).",
                &["state_machine", "status"],
            ),
            state_transitions: counter_vec(
                &registry,
                "quickstep_worker_state_transitions_total",
                "States entered.",
                &["state_machine"],
            ),
            execution_duration,
            in_flight,
            registry,
            machines: Arc::default(),
        }
    }

    /// The execution series of state machine `name`.
    pub fn machine(&self, name: &str) -> Arc<MachineSeries> {
        // A map of handles: a panic while it is held leaves it consistent.
        let mut machines = self.machines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = machines.get(name) {
            return series.clone();
        }
        let finished = [Status::Succeeded, Status::Failed, Status::TimedOut].map(|status| {
            self.executions_finished
                .with_label_values(&[name, status.as_str()])
        });
        let series = Arc::new(MachineSeries {
            started: self.executions_started.with_label_values(&[name]),
            finished,
            duration: self.execution_duration.with_label_values(&[name]),
            transitions: self.state_transitions.with_label_values(&[name]),
        });
        machines.insert(name.to_owned(), series.clone());
        series
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        render(&self.registry)
    }
}

/// `registry` in the text exposition format.
pub fn render(registry: &Registry) -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_default()
}

impl Default for ExecutionMetrics {
    fn default() -> Self {
        ExecutionMetrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_s_series_are_resolved_once_and_counted_under_its_name() {
        let metrics = ExecutionMetrics::new();
        let series = metrics.machine("orders");
        assert!(Arc::ptr_eq(&series, &metrics.machine("orders")));
        assert!(!Arc::ptr_eq(&series, &metrics.machine("refunds")));
        series.started.inc();
        series.finished(Status::Failed).inc();
        series.transitions.inc_by(5);
        series.duration.observe(0.25);
        // A clone of the handles shares the resolved series.
        metrics.clone().machine("orders").started.inc();
        let text = metrics.render();
        for line in [
            "quickstep_worker_executions_started_total{state_machine=\"orders\"} 2",
            "quickstep_worker_executions_finished_total{state_machine=\"orders\",status=\"FAILED\"} 1",
            "quickstep_worker_executions_finished_total{state_machine=\"orders\",status=\"SUCCEEDED\"} 0",
            "quickstep_worker_state_transitions_total{state_machine=\"orders\"} 5",
            "quickstep_worker_execution_duration_seconds_count{state_machine=\"orders\"} 1",
            "quickstep_worker_executions_started_total{state_machine=\"refunds\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}

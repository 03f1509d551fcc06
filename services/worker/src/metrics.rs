//! Every metric the worker exports, named `quickstep_worker_<what>_<unit>[_total]`, with
//! help text in one place. Handles are registered once at build and cloned into stages;
//! label values come from bounded sets (state machine names, statuses, reasons).

use asl::Status;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The worker's metric handles.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// Executions started, by state machine.
    pub executions_started: IntCounterVec,
    /// Executions finished, by state machine and status (SUCCEEDED, FAILED, TIMED_OUT).
    pub executions_finished: IntCounterVec,
    /// Execution duration, by state machine.
    pub execution_duration: HistogramVec,
    /// State transitions, by state machine.
    pub state_transitions: IntCounterVec,
    /// Start records skipped as duplicates of an earlier execution.
    pub duplicates: IntCounter,
    /// Start records rejected before running, by reason.
    pub rejected: IntCounterVec,
    /// Executions running now.
    pub in_flight: IntGauge,
    /// The configured bound on executions in flight (saturation = in_flight / this).
    pub max_in_flight: IntGauge,
    /// Records behind the end of each assigned partition.
    pub consumer_lag: IntGaugeVec,
    /// Time from a record's finish to its offset being stored for commit.
    pub commit_latency: Histogram,
    /// Failed writes to a sink, by sink (results, history, dead_letter).
    pub sink_errors: IntCounterVec,
    /// Failed idempotency store calls, by operation.
    pub idempotency_errors: IntCounterVec,
    /// Executions that waited for the start rate limit, by state machine.
    pub throttled: IntCounterVec,
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

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("metric names are valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric registers once");
    metric
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let durations = vec![
            0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 300.0,
        ];
        let execution_duration = HistogramVec::new(
            HistogramOpts::new(
                "quickstep_worker_execution_duration_seconds",
                "Execution duration from start to stop.",
            )
            .buckets(durations.clone()),
            &["state_machine"],
        )
        .expect("metric names are valid");
        registry
            .register(Box::new(execution_duration.clone()))
            .expect("each metric registers once");
        let in_flight = IntGauge::new(
            "quickstep_worker_executions_in_flight",
            "Executions running now.",
        )
        .expect("metric names are valid");
        registry
            .register(Box::new(in_flight.clone()))
            .expect("each metric registers once");
        let max_in_flight = IntGauge::new(
            "quickstep_worker_max_in_flight",
            "The configured bound on executions in flight.",
        )
        .expect("metric names are valid");
        registry
            .register(Box::new(max_in_flight.clone()))
            .expect("each metric registers once");
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "quickstep_worker_consumer_lag_records",
                "Records between the consumer's position and the end of the partition.",
            ),
            &["topic", "partition"],
        )
        .expect("metric names are valid");
        registry
            .register(Box::new(consumer_lag.clone()))
            .expect("each metric registers once");
        let commit_latency = Histogram::with_opts(
            HistogramOpts::new(
                "quickstep_worker_commit_latency_seconds",
                "Time from a record's finish to its offset being stored for commit.",
            )
            .buckets(vec![0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 60.0]),
        )
        .expect("metric names are valid");
        registry
            .register(Box::new(commit_latency.clone()))
            .expect("each metric registers once");
        let duplicates = IntCounter::new(
            "quickstep_worker_duplicates_total",
            "Start records skipped because their idempotency key already ran or runs.",
        )
        .expect("metric names are valid");
        registry
            .register(Box::new(duplicates.clone()))
            .expect("each metric registers once");
        Metrics {
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
            rejected: counter_vec(
                &registry,
                "quickstep_worker_records_rejected_total",
                "Start records answered with a FAILED result before running, by reason.",
                &["reason"],
            ),
            sink_errors: counter_vec(
                &registry,
                "quickstep_worker_sink_errors_total",
                "Failed writes, by sink.",
                &["sink"],
            ),
            idempotency_errors: counter_vec(
                &registry,
                "quickstep_worker_idempotency_errors_total",
                "Failed idempotency store calls, by operation.",
                &["operation"],
            ),
            throttled: counter_vec(
                &registry,
                "quickstep_worker_executions_throttled_total",
                "Executions that waited for their state machine's start rate limit.",
                &["state_machine"],
            ),
            execution_duration,
            duplicates,
            in_flight,
            max_in_flight,
            consumer_lag,
            commit_latency,
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
        let encoder = prometheus::TextEncoder::new();
        encoder
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_s_series_are_resolved_once_and_counted_under_its_name() {
        let metrics = Metrics::new();
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

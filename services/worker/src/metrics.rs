//! Every metric the worker exports, named `quickstep_worker_<what>_<unit>[_total]`, with
//! help text in one place. Handles are registered once at build and cloned into stages;
//! label values come from bounded sets (state machine names, statuses, reasons).

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

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
        }
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

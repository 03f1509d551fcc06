//! Every metric the worker exports, named `quickstep_worker_<what>_<unit>[_total]`, with
//! help text in one place: the consume pipeline's here, the executions' from the runtime
//! (`runtime::metrics`). Handles are registered once at build and cloned into stages; label
//! values come from bounded sets (state machine names, statuses, reasons).

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use runtime::metrics::{counter_vec, register, ExecutionMetrics};

/// The worker's metric handles.
#[derive(Clone)]
pub struct Metrics {
    /// The registry of the pipeline's metrics (`render` adds the executions').
    pub registry: Registry,
    /// Executions: started, finished, duration, transitions, in flight.
    pub executions: ExecutionMetrics,
    /// Start records skipped as duplicates of an earlier execution.
    pub duplicates: IntCounter,
    /// Start records rejected before running, by reason.
    pub rejected: IntCounterVec,
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
    /// Callback records dropped (not a callback, or a token this deployment did not issue).
    pub callbacks_rejected: IntCounterVec,
    /// Exactly-once transactions, by outcome (committed, aborted, fenced).
    pub transactions: IntCounterVec,
    /// Exactly-once: records skipped because an earlier owner committed their outputs.
    pub records_skipped: IntCounter,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let max_in_flight = register(
            &registry,
            IntGauge::new(
                "quickstep_worker_max_in_flight",
                "The configured bound on executions in flight.",
            )
            .expect("metric names are valid"),
        );
        let consumer_lag = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "quickstep_worker_consumer_lag_records",
                    "Records between the consumer's position and the end of the partition.",
                ),
                &["topic", "partition"],
            )
            .expect("metric names are valid"),
        );
        let commit_latency = register(
            &registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    "quickstep_worker_commit_latency_seconds",
                    "Time from a record's finish to its offset being stored for commit.",
                )
                .buckets(vec![0.0001, 0.001, 0.01, 0.1, 1.0, 10.0, 60.0]),
            )
            .expect("metric names are valid"),
        );
        let duplicates = register(
            &registry,
            IntCounter::new(
                "quickstep_worker_duplicates_total",
                "Start records skipped because their idempotency key already ran or runs.",
            )
            .expect("metric names are valid"),
        );
        Metrics {
            executions: ExecutionMetrics::new(),
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
            callbacks_rejected: register(&registry, runtime::tasks::callback::rejected_counter()),
            transactions: counter_vec(
                &registry,
                "quickstep_worker_transactions_total",
                "Exactly-once transactions, by outcome: committed, aborted (outputs discarded, records rewound) or fenced (producer rebuilt).",
                &["outcome"],
            ),
            records_skipped: register(
                &registry,
                IntCounter::new(
                    "quickstep_worker_records_skipped_total",
                    "Exactly-once: start records skipped because an earlier owner of the partition committed their outputs.",
                )
                .expect("metric names are valid"),
            ),
            duplicates,
            max_in_flight,
            consumer_lag,
            commit_latency,
            registry,
        }
    }

    /// The text exposition format: the pipeline's metrics, then the executions'.
    pub fn render(&self) -> String {
        let mut text = runtime::metrics::render(&self.registry);
        text.push_str(&self.executions.render());
        text
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
    fn renders_the_pipeline_s_and_the_executions_metrics() {
        let metrics = Metrics::new();
        metrics.duplicates.inc();
        metrics.executions.machine("orders").started.inc();
        let text = metrics.render();
        assert!(
            text.contains("quickstep_worker_duplicates_total 1"),
            "{text}"
        );
        assert!(
            text.contains("quickstep_worker_executions_started_total{state_machine=\"orders\"} 1"),
            "{text}"
        );
    }
}

//! Every metric the gateway exports, named `quickstep_gateway_<what>_<unit>[_total]`.
//! Executions run in-process (StartSyncExecution) also count in the runtime's execution
//! metrics (`quickstep_worker_*`), which `/metrics` renders alongside.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use runtime::metrics::{register, ExecutionMetrics};

/// The gateway's metric handles.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// Requests, by operation and HTTP status.
    pub requests: IntCounterVec,
    /// Request latency, by operation.
    pub request_duration: HistogramVec,
    /// Sync executions finished, by state machine and status.
    pub sync_executions: IntCounterVec,
    /// Sync executions (and TestState calls) running now.
    pub sync_in_flight: IntGauge,
    /// Requests refused with ThrottlingException, by operation.
    pub throttled: IntCounterVec,
    /// Starts refused by their state machine's start rate limit, by state machine.
    pub executions_throttled: IntCounterVec,
    /// Records the execution store read, by record (`result`, `history`) and outcome
    /// (`applied`, `skipped`: not the JSON its topic carries).
    pub store_records: IntCounterVec,
    /// Records the execution store could not write (its database failed).
    pub store_write_failures: prometheus::IntCounter,
    /// The runtime's execution metrics for sync executions.
    pub executions: ExecutionMetrics,
    /// Other registries `/metrics` renders too (`quickstep dev`: the worker's).
    also: Vec<Registry>,
}

impl Metrics {
    /// Registers the gateway's metrics; execution metrics go to `executions` (share the
    /// worker's when both run in one process).
    pub fn new(executions: ExecutionMetrics) -> Metrics {
        let registry = Registry::new();
        let requests = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "quickstep_gateway_requests_total",
                    "API requests, by operation and HTTP status.",
                ),
                &["operation", "status"],
            )
            .expect("metric names are valid"),
        );
        let request_duration = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "quickstep_gateway_request_duration_seconds",
                    "API request latency, from the body read to the answer.",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                    30.0, 300.0,
                ]),
                &["operation"],
            )
            .expect("metric names are valid"),
        );
        let sync_executions = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "quickstep_gateway_sync_executions_total",
                    "StartSyncExecution executions finished, by state machine and status.",
                ),
                &["state_machine", "status"],
            )
            .expect("metric names are valid"),
        );
        let sync_in_flight = register(
            &registry,
            IntGauge::new(
                "quickstep_gateway_sync_executions_in_flight",
                "StartSyncExecution and TestState calls running now.",
            )
            .expect("metric names are valid"),
        );
        let throttled = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "quickstep_gateway_throttled_total",
                    "Requests answered with ThrottlingException, by operation.",
                ),
                &["operation"],
            )
            .expect("metric names are valid"),
        );
        // Labelled by registered state machines only (the registry is looked up first), so
        // the label stays as bounded as `sync_executions`'.
        let executions_throttled = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "quickstep_gateway_executions_throttled_total",
                    "StartExecution and StartSyncExecution calls refused by their state machine's start rate limit.",
                ),
                &["state_machine"],
            )
            .expect("metric names are valid"),
        );
        let store_records = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "quickstep_gateway_store_records_total",
                    "Records the execution store read from Kafka, by record (result, history) and outcome (applied, skipped).",
                ),
                &["record", "outcome"],
            )
            .expect("metric names are valid"),
        );
        let store_write_failures = register(
            &registry,
            prometheus::IntCounter::new(
                "quickstep_gateway_store_write_failures_total",
                "Writes of the execution store to its database that failed (each batch is tried again until it is written).",
            )
            .expect("metric names are valid"),
        );
        Metrics {
            registry,
            requests,
            store_records,
            store_write_failures,
            request_duration,
            sync_executions,
            sync_in_flight,
            throttled,
            executions_throttled,
            executions,
            also: Vec::new(),
        }
    }

    /// Renders `registry` at `/metrics` too, after the gateway's and the executions' metrics.
    pub fn also_render(mut self, registry: Registry) -> Metrics {
        self.also.push(registry);
        self
    }

    /// The text exposition format: the gateway's metrics, then the execution metrics.
    pub fn render(&self) -> String {
        let mut text = runtime::metrics::render(&self.registry);
        text.push_str(&self.executions.render());
        for registry in &self.also {
            text.push_str(&runtime::metrics::render(registry));
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(ExecutionMetrics::new())
    }
}

/// The execution store's reader reports here.
impl store::ingest::Observer for Metrics {
    fn applied(&self, results: usize, events: usize) {
        let add = |record: &str, n: usize| {
            self.store_records
                .with_label_values(&[record, "applied"])
                .inc_by(n as u64)
        };
        add("result", results);
        add("history", events);
    }

    fn skipped(&self, kind: &'static str) {
        self.store_records
            .with_label_values(&[kind, "skipped"])
            .inc();
    }

    fn failed(&self, _records: usize) {
        self.store_write_failures.inc();
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;
    use store::ingest::Observer;

    #[test]
    fn the_store_reader_counts_into_metrics() {
        let metrics = Metrics::default();
        metrics.applied(3, 30);
        metrics.skipped("history");
        metrics.failed(7);
        let text = metrics.render();
        for line in [
            "quickstep_gateway_store_records_total{outcome=\"applied\",record=\"result\"} 3",
            "quickstep_gateway_store_records_total{outcome=\"applied\",record=\"history\"} 30",
            "quickstep_gateway_store_records_total{outcome=\"skipped\",record=\"history\"} 1",
            "quickstep_gateway_store_write_failures_total 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}

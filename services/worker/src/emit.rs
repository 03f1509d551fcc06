//! Emission: publishes what an execution (or a rejection) produced — the result record,
//! the history, a dead-letter copy — and marks the idempotency key completed. Only when
//! all of that is acknowledged does the record count as finished for the commit.

use crate::admit::{Job, Rejection};
use crate::idempotency::{IdempotencyStore, RecordId};
use crate::metrics::Metrics;
use crate::source::SourceRecord;
use quickstep_proto::v1::execution_result as result;
use quickstep_proto::v1::{ExecutionResult, Source};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use runtime::execute::Finished;
use runtime::result::execution_result;
use runtime::sinks::HistorySink;
use std::sync::Arc;
use std::time::Duration;

/// The emit stage.
pub struct Emitter {
    producer: FutureProducer,
    results_topic: String,
    dead_letter_topic: Option<String>,
    history: Option<Arc<dyn HistorySink>>,
    store: Option<Arc<dyn IdempotencyStore>>,
    window: Duration,
    metrics: Metrics,
}

impl Emitter {
    /// Builds the stage.
    pub fn new(
        producer: FutureProducer,
        results_topic: String,
        dead_letter_topic: Option<String>,
        history: Option<Arc<dyn HistorySink>>,
        store: Option<Arc<dyn IdempotencyStore>>,
        window: Duration,
        metrics: Metrics,
    ) -> Emitter {
        Emitter {
            producer,
            results_topic,
            dead_letter_topic,
            history,
            store,
            window,
            metrics,
        }
    }

    /// Publishes a finished execution; resolves once everything is acknowledged.
    pub async fn finished(&self, mut job: Box<Job>, finished: Finished) {
        let Finished { outcome, history } = finished;
        // The result takes what it can from the job and the outcome rather than copying it;
        // the history and the completion read the execution's ARN from it after.
        let mut result = execution_result(&mut job.execution, outcome);
        result.idempotency_key = std::mem::take(&mut job.idempotency_key);
        self.publish_result(&job.record, &mut result).await;
        let execution_arn = &result.execution_arn;
        if let (Some(sink), false) = (&self.history, history.is_empty()) {
            let mut delay = Duration::from_millis(100);
            while let Err(error) = sink.write(execution_arn, &history).await {
                self.metrics
                    .sink_errors
                    .with_label_values(&["history"])
                    .inc();
                tracing::warn!(message = "History sink failed; retrying.", %error, %execution_arn);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
        // After the result: a crash between the two reruns the record (same ARN) rather
        // than losing its result.
        if let (Some(store), Some(claim)) = (&self.store, &job.claim) {
            for attempt in 0..5u32 {
                let record = &job.record.id;
                let answer =
                    match store.complete_in_place(claim, record, execution_arn, self.window) {
                        Some(answer) => answer,
                        None => {
                            store
                                .complete(claim, record, execution_arn, self.window)
                                .await
                        }
                    };
                match answer {
                    Ok(()) => break,
                    Err(error) => {
                        self.metrics
                            .idempotency_errors
                            .with_label_values(&["complete"])
                            .inc();
                        tracing::warn!(message = "Idempotency completion failed.", %error, attempt);
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    }
                }
            }
        }
    }

    /// Publishes the FAILED result (States.Runtime) of a record whose trip through the
    /// worker panicked outside the executor, which contains its own. Only the record's
    /// coordinates survive the panic: the result carries them, with no key.
    pub async fn panicked(&self, record: &RecordId) {
        self.metrics.executions.panics.inc();
        tracing::error!(message = "A record's task panicked; it ends FAILED with States.Runtime.", record = %record);
        let mut result = ExecutionResult {
            status: result::Status::Failed as i32,
            error: Some(asl::ErrorName::Runtime.to_string()),
            cause: Some(runtime::execute::PANIC_CAUSE.into()),
            ..ExecutionResult::default()
        };
        let source = SourceRecord {
            id: record.clone(),
            key: None,
            payload: None,
            headers: Vec::new(),
            timestamp_ms: None,
        };
        self.publish_result(&source, &mut result).await;
    }

    /// Publishes the FAILED result of a rejected record (and its dead-letter copy).
    pub async fn rejected(&self, rejection: Rejection) {
        let mut result = ExecutionResult {
            state_machine_arn: rejection.state_machine.clone().unwrap_or_default(),
            status: result::Status::Failed as i32,
            error: Some(rejection.reason.error_name().to_owned()),
            cause: Some(rejection.cause.clone()),
            idempotency_key: rejection.idempotency_key.clone(),
            ..ExecutionResult::default()
        };
        self.publish_result(&rejection.record, &mut result).await;
        if let Some(topic) = &self.dead_letter_topic {
            let record = &rejection.record;
            let mut headers = OwnedHeaders::new();
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            let reason = rejection.reason.error_name();
            headers = headers.insert(Header {
                key: "quickstep-error",
                value: Some(reason),
            });
            headers = headers.insert(Header {
                key: "quickstep-cause",
                value: Some(&rejection.cause),
            });
            let mut out = FutureRecord::to(topic).headers(headers);
            if let Some(key) = &record.key {
                out = out.key(key);
            }
            if let Some(payload) = &record.payload {
                out = out.payload(payload);
            }
            if let Err((error, _)) = self.producer.send(out, Timeout::Never).await {
                self.metrics
                    .sink_errors
                    .with_label_values(&["dead_letter"])
                    .inc();
                tracing::warn!(message = "Dead-letter copy failed.", %error, record = %record.id);
            }
        }
    }

    /// Produces one result record keyed like its start record; retries until acknowledged
    /// (the producer has no delivery timeout, so only a fatal error ends up here).
    async fn publish_result(&self, record: &SourceRecord, result: &mut ExecutionResult) {
        result.source = Some(Source {
            topic: record.id.topic.to_string(),
            partition: record.id.partition,
            offset: record.id.offset,
        });
        let payload = result
            .to_json_bytes()
            .expect("a result always renders as JSON");
        // The trace context travels with the result; without one there are no headers
        // (an empty header list is still an allocation in librdkafka).
        let mut headers: Option<OwnedHeaders> = None;
        for name in ["traceparent", "tracestate"] {
            if let Some(value) = record.header(name) {
                headers = Some(headers.unwrap_or_default().insert(Header {
                    key: name,
                    value: Some(value),
                }));
            }
        }
        let mut delay = Duration::from_millis(100);
        loop {
            let mut out = FutureRecord::to(&self.results_topic).payload(&payload);
            if let Some(headers) = &headers {
                out = out.headers(headers.clone());
            }
            if let Some(key) = &record.key {
                out = out.key(key);
            }
            match self.producer.send(out, Timeout::Never).await {
                Ok(_) => return,
                Err((error, _)) => {
                    self.metrics
                        .sink_errors
                        .with_label_values(&["results"])
                        .inc();
                    tracing::warn!(message = "Result delivery failed; retrying.", %error, record = %record.id);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

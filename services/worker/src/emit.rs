//! Emission: publishes what an execution (or a rejection) produced — the result record,
//! the history, a dead-letter copy — and marks the idempotency key completed. Only when
//! all of that is acknowledged does the record count as finished for the commit.

use crate::admit::Rejection;
use crate::execute::Finished;
use crate::idempotency::{IdempotencyStore, RecordId};
use crate::metrics::Metrics;
use crate::sinks::HistorySink;
use crate::source::SourceRecord;
use asl::Status;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// Express bills memory in 64 MB units and duration in 100 ms steps.
const BILLED_MEMORY_MB: u64 = 64;
const BILLING_STEP_MS: i64 = 100;

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
    pub async fn finished(&self, finished: Finished) -> RecordId {
        let Finished {
            job,
            outcome,
            history,
        } = finished;
        let mut result = Map::new();
        result.insert("executionArn".into(), job.execution_arn.clone().into());
        result.insert("stateMachineArn".into(), job.revision.arn.clone().into());
        result.insert("name".into(), job.name.clone().into());
        result.insert("status".into(), outcome.status.as_str().into());
        result.insert(
            "startDate".into(),
            asl::timestamp::format(outcome.start_ms).into(),
        );
        result.insert(
            "stopDate".into(),
            asl::timestamp::format(outcome.stop_ms).into(),
        );
        match (&outcome.status, &outcome.output) {
            (Status::Succeeded, Some(output)) => {
                result.insert("output".into(), output.to_string().into());
            }
            _ => {
                if let Some(error) = &outcome.error {
                    result.insert("error".into(), error.clone().into());
                }
                if let Some(cause) = &outcome.cause {
                    result.insert("cause".into(), cause.clone().into());
                }
            }
        }
        let duration_ms = (outcome.stop_ms - outcome.start_ms).max(1);
        let billed_ms = (duration_ms + BILLING_STEP_MS - 1) / BILLING_STEP_MS * BILLING_STEP_MS;
        result.insert(
            "billingDetails".into(),
            json!({"billedMemoryUsedInMB": BILLED_MEMORY_MB, "billedDurationInMilliseconds": billed_ms}),
        );
        self.publish_result(&job.record, result, &job.idempotency_key)
            .await;
        if let (Some(sink), false) = (&self.history, history.is_empty()) {
            let mut delay = Duration::from_millis(100);
            while let Err(error) = sink.write(&job.execution_arn, &history).await {
                self.metrics
                    .sink_errors
                    .with_label_values(&["history"])
                    .inc();
                tracing::warn!(message = "History sink failed; retrying.", %error, execution_arn = %job.execution_arn);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
        // After the result: a crash between the two reruns the record (same ARN) rather
        // than losing its result.
        if let (Some(store), Some(claim)) = (&self.store, &job.claim) {
            for attempt in 0..5u32 {
                match store
                    .complete(claim, &job.record.id, &job.execution_arn, self.window)
                    .await
                {
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
        job.record.id
    }

    /// Publishes the FAILED result of a rejected record (and its dead-letter copy).
    pub async fn rejected(&self, rejection: Rejection) -> RecordId {
        let mut result = Map::new();
        if let Some(state_machine) = &rejection.state_machine {
            result.insert("stateMachineArn".into(), state_machine.clone().into());
        }
        result.insert("status".into(), "FAILED".into());
        result.insert("error".into(), rejection.reason.error_name().into());
        result.insert("cause".into(), rejection.cause.clone().into());
        self.publish_result(&rejection.record, result, &rejection.idempotency_key)
            .await;
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
        rejection.record.id
    }

    /// Produces one result record keyed like its start record; retries until acknowledged
    /// (the producer has no delivery timeout, so only a fatal error ends up here).
    async fn publish_result(
        &self,
        record: &SourceRecord,
        mut result: Map<String, Value>,
        idempotency_key: &str,
    ) {
        result.insert("idempotencyKey".into(), idempotency_key.into());
        result.insert(
            "source".into(),
            json!({"topic": record.id.topic, "partition": record.id.partition, "offset": record.id.offset.to_string()}),
        );
        let payload = Value::Object(result).to_string();
        let mut headers = OwnedHeaders::new();
        for name in ["traceparent", "tracestate"] {
            if let Some(value) = record.header(name) {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(value),
                });
            }
        }
        let mut delay = Duration::from_millis(100);
        loop {
            let mut out = FutureRecord::to(&self.results_topic)
                .payload(&payload)
                .headers(headers.clone());
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

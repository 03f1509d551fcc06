//! Emission: publishes what an execution (or a rejection) produced — the result record,
//! the history, a dead-letter copy — and marks the idempotency key completed. Only when
//! all of that is acknowledged does the record count as finished for the commit. In
//! exactly-once mode (`*_in`) the same records go into the worker's open transaction, once
//! each (a failure aborts the transaction, whose records then run again), and the key is
//! completed only after that transaction commits.

use crate::admit::{Job, Rejection};
use crate::idempotency::{ClaimKey, IdempotencyStore, RecordId};
use crate::metrics::Metrics;
use crate::source::SourceRecord;
use crate::transaction::{Completion, Write};
use quickstep_proto::v1::execution_result as result;
use quickstep_proto::v1::{ExecutionResult, Source};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use runtime::execute::Finished;
use runtime::result::execution_result;
use runtime::sinks::{HistoryBatch, HistorySink};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a record is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempts {
    /// At-least-once: until the broker acknowledges it.
    UntilAcknowledged,
    /// Exactly-once: one try; a failure fails the open transaction.
    Once,
}

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

    /// Publishes a finished execution; resolves once everything is acknowledged. `false`:
    /// shutdown came before the idempotency key was marked completed, so the record must
    /// stay uncommitted.
    pub async fn finished(
        &self,
        mut job: Box<Job>,
        finished: Finished,
        shutdown: &CancellationToken,
    ) -> bool {
        let Finished {
            outcome,
            history,
            attempt,
        } = finished;
        // The result takes what it can from the job and the outcome rather than copying it;
        // the history and the completion read the execution's ARN from it after.
        let mut result = execution_result(&mut job.execution, outcome);
        result.idempotency_key = std::mem::take(&mut job.idempotency_key);
        // The history goes out beside the result rather than after its acknowledgement: one
        // produce round trip per execution instead of two (the execution store takes events
        // that arrive before their result, DESIGN.md).
        let execution_arn = result.execution_arn.clone();
        let execution_arn = &execution_arn;
        let history = async {
            if let (Some(sink), false) = (&self.history, history.is_empty()) {
                let mut delay = Duration::from_millis(100);
                let batch = HistoryBatch {
                    execution_arn,
                    attempt,
                    events: &history,
                };
                while let Err(error) = sink.write(batch).await {
                    self.metrics
                        .sink_errors
                        .with_label_values(&["history"])
                        .inc();
                    if error.is_permanent() {
                        tracing::error!(message = "History cannot be written; the result goes out without it.", %error, %execution_arn);
                        break;
                    }
                    tracing::warn!(message = "History sink failed; retrying.", %error, %execution_arn);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };
        futures::join!(
            self.publish_result(
                &self.producer,
                &job.record,
                &mut result,
                Attempts::UntilAcknowledged,
            ),
            history
        );
        // After the result: a crash between the two reruns the record (same ARN) rather
        // than losing its result.
        match (&self.store, &job.claim) {
            (Some(store), Some(claim)) => {
                self.complete(
                    store.as_ref(),
                    claim,
                    &job.record.id,
                    execution_arn,
                    shutdown,
                )
                .await
            }
            _ => true,
        }
    }

    /// Exactly-once: writes a finished execution's result and history into the open
    /// transaction (`write`); returns the key to complete once it commits.
    pub(crate) async fn finished_in(
        &self,
        write: &Write<'_>,
        mut job: Box<Job>,
        finished: Finished,
    ) -> Option<Completion> {
        let Finished {
            outcome,
            history,
            attempt,
        } = finished;
        let mut result = execution_result(&mut job.execution, outcome);
        result.idempotency_key = std::mem::take(&mut job.idempotency_key);
        if !self
            .publish_result(&write.producer, &job.record, &mut result, Attempts::Once)
            .await
        {
            write.fail();
            return None;
        }
        if let (Some(sink), false) = (&self.history, history.is_empty()) {
            let batch = HistoryBatch {
                execution_arn: &result.execution_arn,
                attempt,
                events: &history,
            };
            match sink.write(batch).await {
                Ok(()) => {}
                // Rerunning the transaction would fail the same way, forever.
                Err(error) if error.is_permanent() => {
                    self.metrics
                        .sink_errors
                        .with_label_values(&["history"])
                        .inc();
                    tracing::error!(message = "History cannot be written; the result goes out without it.", %error, execution_arn = %result.execution_arn);
                }
                Err(error) => {
                    self.metrics
                        .sink_errors
                        .with_label_values(&["history"])
                        .inc();
                    tracing::warn!(message = "History write failed; the transaction aborts.", %error, execution_arn = %result.execution_arn);
                    write.fail();
                    return None;
                }
            }
        }
        let claim = job.claim.take()?;
        self.store.as_ref()?;
        Some(Completion {
            claim,
            record: job.record.id.clone(),
            execution_arn: result.execution_arn,
        })
    }

    /// Exactly-once: marks the keys of a committed transaction completed (with the same
    /// retry rules as [`Emitter::finished`]).
    pub(crate) async fn complete_all(
        &self,
        completions: Vec<Completion>,
        shutdown: &CancellationToken,
    ) {
        let Some(store) = &self.store else {
            return;
        };
        for completion in completions {
            self.complete(
                store.as_ref(),
                &completion.claim,
                &completion.record,
                &completion.execution_arn,
                shutdown,
            )
            .await;
        }
    }

    /// Marks the key completed. A transient error is retried with backoff until it lands or
    /// the worker shuts down: then `false`, and the offset stays uncommitted, so the next
    /// owner reruns the record under the same-record take-over rule rather than a duplicate
    /// running again inside the window. An error retrying cannot fix is counted and logged
    /// and the record ends (`true`): its result is out, and the key's running claim lapses
    /// after its TTL.
    async fn complete(
        &self,
        store: &dyn IdempotencyStore,
        claim: &ClaimKey,
        record: &RecordId,
        execution_arn: &str,
        shutdown: &CancellationToken,
    ) -> bool {
        let mut delay = Duration::from_millis(100);
        loop {
            let answer = match store.complete_in_place(claim, record, execution_arn, self.window) {
                Some(answer) => answer,
                None => {
                    store
                        .complete(claim, record, execution_arn, self.window)
                        .await
                }
            };
            let error = match answer {
                Ok(()) => return true,
                Err(error) => error,
            };
            self.metrics
                .idempotency_errors
                .with_label_values(&["complete"])
                .inc();
            if !error.is_transient() {
                tracing::error!(message = "Idempotency completion failed for good; a duplicate may run again once the claim lapses.", %error, %record);
                return true;
            }
            tracing::warn!(message = "Idempotency completion failed; retrying.", %error, %record);
            tokio::select! {
                _ = shutdown.cancelled() => {
                    tracing::warn!(message = "Shutting down before the completion landed; the record stays uncommitted.", %record);
                    return false;
                }
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Publishes the FAILED result (States.Runtime) of a record whose trip through the
    /// worker panicked outside the executor, which contains its own. Only the record's
    /// coordinates survive the panic: the result carries them, with no key.
    pub async fn panicked(&self, record: &RecordId) {
        self.panicked_with(&self.producer, record, Attempts::UntilAcknowledged)
            .await;
    }

    /// Exactly-once: [`Emitter::panicked`] into the open transaction.
    pub(crate) async fn panicked_in(&self, write: &Write<'_>, record: &RecordId) {
        if !self
            .panicked_with(&write.producer, record, Attempts::Once)
            .await
        {
            write.fail();
        }
    }

    /// Counts and logs a panic caught in a record's task (its FAILED result follows, once
    /// per panic: an exactly-once rerun that only publishes it is not another).
    pub(crate) fn panic_caught(&self, record: &RecordId) {
        self.metrics.executions.panics.inc();
        tracing::error!(message = "A record's task panicked; it ends FAILED with States.Runtime.", record = %record);
    }

    async fn panicked_with(
        &self,
        producer: &FutureProducer,
        record: &RecordId,
        attempts: Attempts,
    ) -> bool {
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
        self.publish_result(producer, &source, &mut result, attempts)
            .await
    }

    /// Publishes the FAILED result of a rejected record (and its dead-letter copy).
    pub async fn rejected(&self, rejection: Rejection) {
        self.rejected_with(&self.producer, rejection, Attempts::UntilAcknowledged)
            .await;
    }

    /// Exactly-once: [`Emitter::rejected`] into the open transaction.
    pub(crate) async fn rejected_in(&self, write: &Write<'_>, rejection: Rejection) {
        if !self
            .rejected_with(&write.producer, rejection, Attempts::Once)
            .await
        {
            write.fail();
        }
    }

    /// Returns false when a record failed in exactly-once mode (the transaction must abort).
    async fn rejected_with(
        &self,
        producer: &FutureProducer,
        rejection: Rejection,
        attempts: Attempts,
    ) -> bool {
        let mut result = ExecutionResult {
            state_machine_arn: rejection.state_machine.clone().unwrap_or_default(),
            status: result::Status::Failed as i32,
            error: Some(rejection.reason.error_name().to_owned()),
            cause: Some(rejection.cause.clone()),
            idempotency_key: rejection.idempotency_key.clone(),
            ..ExecutionResult::default()
        };
        if !self
            .publish_result(producer, &rejection.record, &mut result, attempts)
            .await
        {
            return false;
        }
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
            if let Err((error, _)) = producer.send(out, Timeout::Never).await {
                self.metrics
                    .sink_errors
                    .with_label_values(&["dead_letter"])
                    .inc();
                tracing::warn!(message = "Dead-letter copy failed.", %error, record = %record.id);
                return attempts == Attempts::UntilAcknowledged;
            }
        }
        true
    }

    /// Produces one result record keyed like its start record; at-least-once retries until
    /// acknowledged (the producer has no delivery timeout, so only a fatal error ends up
    /// here) and returns true; exactly-once tries once and says whether it was acknowledged.
    async fn publish_result(
        &self,
        producer: &FutureProducer,
        record: &SourceRecord,
        result: &mut ExecutionResult,
        attempts: Attempts,
    ) -> bool {
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
        for name in SourceRecord::RESULT_HEADERS {
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
            match producer.send(out, Timeout::Never).await {
                Ok(_) => return true,
                Err((error, _)) => {
                    self.metrics
                        .sink_errors
                        .with_label_values(&["results"])
                        .inc();
                    if attempts == Attempts::Once {
                        tracing::warn!(message = "Result delivery failed; the transaction aborts.", %error, record = %record.id);
                        return false;
                    }
                    tracing::warn!(message = "Result delivery failed; retrying.", %error, record = %record.id);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::{Claim, StoreError};
    use futures::future::BoxFuture;
    use rdkafka::ClientConfig;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// Fails its first `failures` completions with `error`; counts them all.
    struct Completions {
        failures: AtomicUsize,
        error: StoreError,
        calls: AtomicUsize,
    }

    impl IdempotencyStore for Completions {
        fn claim<'a>(
            &'a self,
            _key: &'a ClaimKey,
            _record: &'a RecordId,
            _running_ttl: Duration,
        ) -> BoxFuture<'a, Result<Claim, StoreError>> {
            Box::pin(async { Ok(Claim::Claimed) })
        }
        fn complete<'a>(
            &'a self,
            _key: &'a ClaimKey,
            _record: &'a RecordId,
            _execution_arn: &'a str,
            _window: Duration,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            self.calls.fetch_add(1, SeqCst);
            let down = self
                .failures
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok();
            Box::pin(async move {
                if down {
                    Err(self.error.clone())
                } else {
                    Ok(())
                }
            })
        }
        fn release<'a>(
            &'a self,
            _key: &'a ClaimKey,
            _record: &'a RecordId,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }

    fn store(failures: usize, error: StoreError) -> Arc<Completions> {
        Arc::new(Completions {
            failures: failures.into(),
            error,
            calls: 0.into(),
        })
    }

    fn emitter(store: Arc<Completions>) -> Emitter {
        // Completion never produces: the producer only has to exist.
        let producer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .create()
            .expect("producer");
        Emitter::new(
            producer,
            "quickstep.results".into(),
            None,
            None,
            Some(store),
            Duration::from_secs(60),
            Metrics::new(),
        )
    }

    async fn complete(emitter: &Emitter, shutdown: &CancellationToken) -> bool {
        let store = emitter.store.clone().expect("a store");
        emitter
            .complete(
                store.as_ref(),
                &ClaimKey::new("orders", "key-1"),
                &RecordId::new("quickstep.start", 0, 7),
                "arn:aws:states:local:000000000000:express:orders:one",
                shutdown,
            )
            .await
    }

    fn unavailable() -> StoreError {
        StoreError::Unavailable("connection refused".into())
    }

    #[tokio::test(start_paused = true)]
    async fn completion_is_retried_past_five_failures_until_it_lands() {
        let store = store(8, unavailable());
        let emitter = emitter(store.clone());
        assert!(complete(&emitter, &CancellationToken::new()).await);
        assert_eq!(
            store.calls.load(SeqCst),
            9,
            "eight failures, then it landed"
        );
        assert_eq!(
            emitter
                .metrics
                .idempotency_errors
                .with_label_values(&["complete"])
                .get(),
            8
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_before_the_completion_lands_keeps_the_record_uncommitted() {
        let store = store(usize::MAX, unavailable());
        let emitter = emitter(store.clone());
        let shutdown = CancellationToken::new();
        let cancel = shutdown.clone();
        let (committed, ()) = tokio::join!(complete(&emitter, &shutdown), async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            cancel.cancel();
        });
        assert!(!committed, "the offset must not be committed");
        assert!(store.calls.load(SeqCst) > 5, "retried until shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_completion_error_is_not_retried() {
        let store = store(1, StoreError::Protocol("script error".into()));
        let emitter = emitter(store.clone());
        assert!(complete(&emitter, &CancellationToken::new()).await);
        assert_eq!(store.calls.load(SeqCst), 1);
        assert_eq!(
            emitter
                .metrics
                .idempotency_errors
                .with_label_values(&["complete"])
                .get(),
            1
        );
    }
}

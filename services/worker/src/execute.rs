//! The execute stage: each start record's own task carries it through admission, the
//! runtime's executor and emission, off the loop that reads the partitions.

use crate::admit::{Admission, Admit};
use crate::commit::CommitTracker;
use crate::emit::Emitter;
use crate::idempotency::RecordId;
use crate::source::SourceRecord;
use crate::transaction::Transactions;
use futures::future::Either;
use futures::FutureExt as _;
use runtime::execute::Executor;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What ended a record's trip through the pipeline.
pub(crate) struct Done {
    pub(crate) record: RecordId,
    /// False when the record must stay uncommitted (shutdown while its claim could not be
    /// made, or before its completion landed): its offset then holds the partition's commit
    /// position, and the next owner takes the claim over as the same record.
    pub(crate) committed: bool,
    pub(crate) finished_at: Instant,
}

/// What each execution's task uses, shared: one reference count per task.
pub(crate) struct Stages {
    pub(crate) admit: Arc<Admit>,
    pub(crate) executor: Arc<Executor>,
    pub(crate) emitter: Arc<Emitter>,
    pub(crate) shutdown: CancellationToken,
    /// Exactly-once: outputs go into the open transaction.
    pub(crate) transactions: Option<Arc<Transactions>>,
}

/// Admits a record to the pipeline and spawns its execution's task; `epoch` is its
/// partition's in exactly-once mode (0 otherwise). Returns the task's abort handle (none
/// when the record's partition is not ours).
pub(crate) fn start(
    record: SourceRecord,
    epoch: u64,
    stages: &Arc<Stages>,
    tracker: &mut CommitTracker,
    executions: &mut JoinSet<Done>,
) -> Option<tokio::task::AbortHandle> {
    // A record fetched before its partition was revoked belongs to the new owner now.
    if !tracker.admit(&record.id) {
        return None;
    }
    // The record's trip is built here and boxed, so the task's own future holds a pointer
    // to it, not room for the record it was given (an `async` block keeps room for what it
    // captured for its whole life, as an `async fn` does for its arguments).
    let id = record.id.clone();
    let record = Box::new(record);
    let carried = match &stages.transactions {
        None => Either::Left(Box::pin(carry(record, stages.clone()))),
        // Boxed apart: inline, the task's future would be as large as the larger of the
        // two modes' (measured: 7.2 KiB of heap per in-flight execution with both inline,
        // against 5.3 KiB before exactly-once).
        Some(transactions) => Either::Right(Box::pin(carry_in(
            record,
            epoch,
            stages.clone(),
            transactions.clone(),
        ))),
    };
    let stages = stages.clone();
    // Boxed: the runtime moves a task's future into its cell and writes the output over
    // it, each a copy of the whole future; a box makes those copies a pointer's.
    Some(executions.spawn(Box::pin(async move {
        // The executor contains a panic of the engine or an integration itself; this catches
        // one in the worker's own stages (admission, emission), where the record's identity
        // would otherwise be lost with the task and its offset would hold the partition's
        // commit position forever.
        let (record, committed) = match AssertUnwindSafe(carried).catch_unwind().await {
            Ok(carried) => carried,
            // Boxed: inline, this rare path's result produce made every task's future
            // larger than all of its stages together.
            Err(_) => {
                stages.emitter.panic_caught(&id);
                Box::pin(panicked(id, epoch, stages)).await
            }
        };
        Done {
            record,
            committed,
            finished_at: Instant::now(),
        }
    })))
}

/// After a panic in the worker's own stages: the record's FAILED result, so its offset can
/// move on (in exactly-once mode, only while its partition is still ours).
async fn panicked(id: RecordId, epoch: u64, stages: Arc<Stages>) -> (RecordId, bool) {
    match &stages.transactions {
        None => {
            stages.emitter.panicked(&id).await;
            (id, true)
        }
        Some(transactions) => match transactions.enter(&id, epoch).await {
            Some(write) => {
                // A panic mid-write failed the transaction (the dropped guard): the record
                // runs again, and would panic again.
                write.panicked(&id);
                stages.emitter.panicked_in(&write, &id).await;
                write.finish(id.clone(), None);
                (id, true)
            }
            None => (id, false),
        },
    }
}

/// Carries a record to its end inside its execution's task: admission (the registry
/// catch-up for an unknown state machine and the idempotency claim are round trips) happens
/// here, so it spreads over the runtime's threads and overlaps rather than stalling the
/// loop that reads the partitions. Returns the record and whether it may be committed (not
/// when shutdown left its claim unmade).
async fn carry(record: Box<SourceRecord>, stages: Arc<Stages>) -> (RecordId, bool) {
    // Out of its box, which goes now (dropped at the end of the function, a moved-from box
    // would stay allocated for the whole execution).
    let record = *{ record };
    let id = record.id.clone();
    // Each stage in a box of its own, freed when it ends: inline, the task's future is as
    // large as the largest stage's, and an execution held in a Wait (or a Task's call) kept
    // admission's and emission's space besides its own for its whole run — a quarter of the
    // memory an in-flight execution held (`tests/memory.rs`). Two more allocations per
    // record buy that back.
    let committed = match Box::pin(stages.admit.admit(record, &stages.shutdown)).await {
        Admission::Run(mut job) => {
            let finished = Box::pin(stages.executor.execute(&mut job.execution)).await;
            // False when shutdown came before the key was marked completed: left for the
            // next owner, which takes the claim over as the same record.
            Box::pin(stages.emitter.finished(job, finished, &stages.shutdown)).await
        }
        Admission::Reject(rejection) => {
            Box::pin(stages.emitter.rejected(*rejection)).await;
            true
        }
        Admission::Duplicate(_) => true,
        // Left uncommitted: the next owner of the partition sees it again. (`admit` answers
        // `Unknown` never: it reconsiders such a record itself.)
        Admission::Abandoned | Admission::Unknown(_) => false,
    };
    (id, committed)
}

/// [`carry`] in exactly-once mode: the execution runs outside any transaction; its outputs
/// go into the open one, with the gate held from the first record to the last so a commit
/// never splits them, and only while its partition is still ours under the same epoch.
async fn carry_in(
    record: Box<SourceRecord>,
    epoch: u64,
    stages: Arc<Stages>,
    transactions: Arc<Transactions>,
) -> (RecordId, bool) {
    let record = *{ record };
    let id = record.id.clone();
    if transactions.take_panicked(&id) {
        // Boxed for the same reason as in `start`: a rare path.
        return Box::pin(panicked(id, epoch, stages)).await;
    }
    match stages.admit.admit(record, &stages.shutdown).await {
        Admission::Run(mut job) => {
            let finished = stages.executor.execute(&mut job.execution).await;
            let Some(write) = transactions.enter(&id, epoch).await else {
                return (id, false);
            };
            let completion = stages.emitter.finished_in(&write, job, finished).await;
            write.finish(id.clone(), completion);
        }
        Admission::Reject(rejection) => {
            let Some(write) = transactions.enter(&id, epoch).await else {
                return (id, false);
            };
            Box::pin(stages.emitter.rejected_in(&write, *rejection)).await;
            write.finish(id.clone(), None);
        }
        Admission::Duplicate(_) => {
            let Some(write) = transactions.enter(&id, epoch).await else {
                return (id, false);
            };
            write.finish(id.clone(), None);
        }
        Admission::Abandoned | Admission::Unknown(_) => return (id, false),
    }
    (id, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TriggerConfig;
    use crate::metrics::Metrics;
    use asl::history::Level;
    use asl::{StatesError, TaskHandler, TaskRequest};
    use futures::future::BoxFuture;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::FutureProducer;
    use rdkafka::{ClientConfig, Message};
    use runtime::clock::{system_rng, SystemClock};
    use runtime::registry::{Registry, RegistryEntry};
    use runtime::sinks::{HistoryBatch, HistorySink, SinkError};
    use runtime::start_rate::StartLimits;
    use runtime::task_token::TaskTokenKeys;
    use serde_json::Value;
    use std::time::Duration;

    /// A test-only integration with a bug: it panics on the input `{"boom": true}`.
    struct PanicsOnBoom;

    impl TaskHandler for PanicsOnBoom {
        fn invoke<'a>(
            &'a self,
            request: TaskRequest<'a>,
        ) -> BoxFuture<'a, Result<Value, StatesError>> {
            Box::pin(async move {
                if request.input["boom"] == true {
                    panic!("integration bug on {}", request.input);
                }
                Ok(request.input)
            })
        }
    }

    /// A history sink with a bug: the worker's own stage (emission) panics.
    struct PanickingSink;

    impl HistorySink for PanickingSink {
        fn write<'a>(&'a self, _batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
            Box::pin(async { panic!("sink bug") })
        }
    }

    /// A history sink whose every write fails for good (an event larger than any record).
    struct TooLargeSink;

    impl HistorySink for TooLargeSink {
        fn write<'a>(&'a self, batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
            Box::pin(async move {
                Err(SinkError::TooLarge {
                    execution_arn: batch.execution_arn.to_owned(),
                    event_id: 1,
                    bytes: 2_000_000,
                    max_bytes: 1_000_000,
                })
            })
        }
    }

    const TOPIC: &str = "quickstep.start";
    const RESULTS: &str = "quickstep.results";

    fn stages(
        brokers: &str,
        history: Option<Arc<dyn HistorySink>>,
        level: Option<&str>,
    ) -> (Arc<Stages>, Metrics) {
        stages_with(
            brokers,
            history,
            level,
            Arc::new(crate::idempotency::MemoryStore::new()),
            None,
        )
    }

    fn stages_with(
        brokers: &str,
        history: Option<Arc<dyn HistorySink>>,
        level: Option<&str>,
        store: Arc<dyn crate::idempotency::IdempotencyStore>,
        dead_letter_topic: Option<&str>,
    ) -> (Arc<Stages>, Metrics) {
        let registry = Arc::new(Registry::new("local", "000000000000"));
        registry
            .apply(&RegistryEntry {
                name: "orders".into(),
                definition: r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:local:000000000000:function:f","End":true}}}"#.into(),
                role_arn: String::new(),
                level: level.map(str::to_owned),
                include_execution_data: false,
            })
            .expect("valid");
        let metrics = Metrics::new();
        let trigger = TriggerConfig {
            topic: TOPIC.into(),
            state_machine: Some("orders".into()),
            state_machine_path: None,
            idempotency_key_path: None,
        };
        let admit = Admit::new(
            registry,
            None,
            Some(store.clone()),
            &[trigger],
            StartLimits::new(None, &Default::default()),
            metrics.clone(),
        )
        .expect("valid trigger");
        let executor = Executor::new(
            Arc::new(PanicsOnBoom),
            Arc::new(SystemClock),
            Arc::new(system_rng()),
            Arc::new(TaskTokenKeys::ephemeral().unwrap()),
            metrics.executions.clone(),
            Level::Off,
            false,
        );
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()
            .expect("producer");
        let emitter = Emitter::new(
            producer,
            RESULTS.into(),
            dead_letter_topic.map(str::to_owned),
            history,
            Some(store),
            Duration::from_secs(60),
            metrics.clone(),
        );
        let stages = Arc::new(Stages {
            admit: Arc::new(admit),
            executor: Arc::new(executor),
            emitter: Arc::new(emitter),
            shutdown: CancellationToken::new(),
            transactions: None,
        });
        (stages, metrics)
    }

    fn record(offset: i64, payload: &str) -> SourceRecord {
        SourceRecord {
            id: RecordId::new(TOPIC, 0, offset),
            key: Some(format!("key-{offset}").into_bytes()),
            payload: Some(payload.as_bytes().to_vec()),
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    /// The results topic's records, as JSON, once `count` have arrived.
    async fn results(brokers: &str, count: usize) -> Vec<Value> {
        read(brokers, RESULTS, count)
            .await
            .iter()
            .map(|m| serde_json::from_slice(m.payload().expect("value")).expect("JSON"))
            .collect()
    }

    /// The first `count` records of `topic`.
    async fn read(brokers: &str, topic: &str, count: usize) -> Vec<rdkafka::message::OwnedMessage> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", format!("reader-of-{topic}"))
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let mut out = Vec::new();
        while out.len() < count {
            let message = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
                .await
                .expect("a result in time")
                .expect("a record");
            out.push(message.detach());
        }
        out
    }

    /// A result's source offset (proto3 JSON writes an int64 as a string and omits a zero).
    fn offset_of(result: &Value) -> i64 {
        result["source"]["offset"]
            .as_str()
            .map(|o| o.parse().expect("an offset"))
            .unwrap_or(0)
    }

    async fn run_all(stages: &Arc<Stages>, records: Vec<SourceRecord>) -> CommitTracker {
        let mut tracker = CommitTracker::default();
        tracker.assign(TOPIC, 0);
        let mut executions = JoinSet::new();
        for record in records {
            start(record, 0, stages, &mut tracker, &mut executions);
        }
        while let Some(done) = executions.join_next().await {
            let done = done.expect("a carried record never fails its task");
            assert!(done.committed, "{} is released", done.record);
            tracker.finish(&done.record);
        }
        tracker
    }

    #[tokio::test]
    async fn a_panicking_integration_fails_its_execution_and_the_worker_goes_on() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic(RESULTS, 1, 1).expect("topic");
        let brokers = cluster.bootstrap_servers();
        let (stages, metrics) = stages(&brokers, None, None);
        let mut tracker = run_all(
            &stages,
            vec![
                record(0, r#"{"boom": false}"#),
                record(1, r#"{"boom": true, "card": "4111"}"#),
                record(2, r#"{"boom": false}"#),
            ],
        )
        .await;
        // Every offset released: the partition commits past the panic.
        assert_eq!(tracker.take_moved(), [(Arc::from(TOPIC), 0, 3)]);
        let results = results(&brokers, 3).await;
        let by_offset = |offset: i64| {
            results
                .iter()
                .find(|r| offset_of(r) == offset)
                .unwrap_or_else(|| panic!("a result for offset {offset}: {results:?}"))
        };
        assert_eq!(by_offset(0)["status"], "SUCCEEDED");
        assert_eq!(by_offset(2)["status"], "SUCCEEDED");
        let failed = by_offset(1);
        assert_eq!(failed["status"], "FAILED");
        assert_eq!(failed["error"], "States.Runtime");
        assert_eq!(failed["cause"], runtime::execute::PANIC_CAUSE);
        assert!(!failed.to_string().contains("4111"), "{failed}");
        assert_eq!(metrics.executions.panics.get(), 1);
        assert_eq!(metrics.executions.in_flight.get(), 0);
    }

    #[tokio::test]
    async fn a_panic_in_the_worker_s_own_stage_still_publishes_and_releases() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic(RESULTS, 1, 1).expect("topic");
        let brokers = cluster.bootstrap_servers();
        let (stages, metrics) = stages(&brokers, Some(Arc::new(PanickingSink)), Some("ALL"));
        let mut tracker = run_all(&stages, vec![record(0, r#"{"boom": false}"#)]).await;
        assert_eq!(tracker.take_moved(), [(Arc::from(TOPIC), 0, 1)]);
        // The execution's own result went out before the sink panicked; then the panic's.
        let results = results(&brokers, 2).await;
        assert_eq!(results[0]["status"], "SUCCEEDED");
        assert_eq!(results[1]["status"], "FAILED");
        assert_eq!(results[1]["error"], "States.Runtime");
        assert_eq!(offset_of(&results[1]), 0);
        assert_eq!(results[1]["source"]["topic"], TOPIC);
        assert_eq!(metrics.executions.panics.get(), 1);
    }

    #[tokio::test]
    async fn a_history_that_can_never_be_written_does_not_hold_up_the_record() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic(RESULTS, 1, 1).expect("topic");
        let brokers = cluster.bootstrap_servers();
        let (stages, metrics) = stages(&brokers, Some(Arc::new(TooLargeSink)), Some("ALL"));
        // Retried like a transient error, this would never finish.
        let mut tracker = tokio::time::timeout(
            Duration::from_secs(30),
            run_all(&stages, vec![record(0, r#"{"boom": false}"#)]),
        )
        .await
        .expect("the record finishes");
        assert_eq!(tracker.take_moved(), [(Arc::from(TOPIC), 0, 1)]);
        assert_eq!(results(&brokers, 1).await[0]["status"], "SUCCEEDED");
        assert_eq!(metrics.sink_errors.with_label_values(&["history"]).get(), 1);
    }

    /// Exactly-once stages over `stages_with`'s, owning partition 0 under epoch 1.
    fn transactional(stages: Arc<Stages>, brokers: &str) -> (Arc<Stages>, Arc<Transactions>) {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()
            .expect("producer");
        let transactions = Arc::new(Transactions::for_test(producer, &[(TOPIC, 0, 1)]));
        let stages = Arc::into_inner(stages).expect("one owner");
        let stages = Arc::new(Stages {
            transactions: Some(transactions.clone()),
            ..stages
        });
        (stages, transactions)
    }

    /// Runs `record` under epoch 1 to its task's end; whether it may be committed.
    async fn run_in(stages: &Arc<Stages>, record: SourceRecord) -> bool {
        let mut tracker = CommitTracker::default();
        tracker.assign(TOPIC, 0);
        let mut executions = JoinSet::new();
        start(record, 1, stages, &mut tracker, &mut executions).expect("ours");
        let done = executions.join_next().await.expect("one task");
        done.expect("a carried record never fails its task")
            .committed
    }

    #[tokio::test]
    async fn exactly_once_a_panic_mid_write_aborts_and_the_rerun_only_fails_the_record() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic(RESULTS, 1, 1).expect("topic");
        let brokers = cluster.bootstrap_servers();
        let (stages, metrics) = stages(&brokers, Some(Arc::new(PanickingSink)), Some("ALL"));
        let (stages, transactions) = transactional(stages, &brokers);
        // The result is written, then the sink panics: the transaction holds a SUCCEEDED
        // result and the panic's FAILED one for one record, and must not commit.
        assert!(run_in(&stages, record(0, r#"{"boom": false}"#)).await);
        assert!(
            transactions.failed(),
            "a half-written record fails the transaction"
        );
        // The abort and rewind; the record runs again: only its FAILED result, no execution
        // (which would panic again and abort every transaction after).
        transactions.discard();
        assert!(run_in(&stages, record(0, r#"{"boom": false}"#)).await);
        assert!(!transactions.failed(), "the rerun's transaction can commit");
        assert_eq!(transactions.pending(), 1);
        let results = results(&brokers, 3).await;
        let statuses: Vec<&Value> = results.iter().map(|r| &r["status"]).collect();
        assert_eq!(statuses, ["SUCCEEDED", "FAILED", "FAILED"]);
        assert_eq!(results[2]["error"], "States.Runtime");
        assert_eq!(offset_of(&results[2]), 0);
        // A third run is a normal one again (the mark was taken).
        assert!(!transactions.take_panicked(&RecordId::new(TOPIC, 0, 0)));
        assert_eq!(
            metrics.executions.panics.get(),
            1,
            "one panic, however often it is published"
        );
    }

    #[tokio::test]
    async fn exactly_once_a_history_that_can_never_be_written_does_not_fail_the_transaction() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic(RESULTS, 1, 1).expect("topic");
        let brokers = cluster.bootstrap_servers();
        let (stages, metrics) = stages(&brokers, Some(Arc::new(TooLargeSink)), Some("ALL"));
        let (stages, transactions) = transactional(stages, &brokers);
        assert!(run_in(&stages, record(0, r#"{"boom": false}"#)).await);
        // Aborting would run it again and fail the same way, forever.
        assert!(!transactions.failed());
        assert_eq!(transactions.pending(), 1, "finished in the transaction");
        assert_eq!(results(&brokers, 1).await[0]["status"], "SUCCEEDED");
        assert_eq!(metrics.sink_errors.with_label_values(&["history"]).get(), 1);
    }

    /// A store whose every claim finds a corrupt value: retrying cannot help.
    struct Corrupt;

    impl crate::idempotency::IdempotencyStore for Corrupt {
        fn claim<'a>(
            &'a self,
            _key: &'a crate::idempotency::ClaimKey,
            _record: &'a RecordId,
            _running_ttl: Duration,
        ) -> BoxFuture<'a, Result<crate::idempotency::Claim, crate::idempotency::StoreError>>
        {
            Box::pin(async {
                Err(crate::idempotency::StoreError::Protocol(
                    "malformed idempotency value \"?\"".into(),
                ))
            })
        }
        fn complete<'a>(
            &'a self,
            _key: &'a crate::idempotency::ClaimKey,
            _record: &'a RecordId,
            _execution_arn: &'a str,
            _window: Duration,
        ) -> BoxFuture<'a, Result<(), crate::idempotency::StoreError>> {
            Box::pin(async { Ok(()) })
        }
        fn release<'a>(
            &'a self,
            _key: &'a crate::idempotency::ClaimKey,
            _record: &'a RecordId,
        ) -> BoxFuture<'a, Result<(), crate::idempotency::StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn a_permanent_claim_error_publishes_a_failed_result_and_a_dead_letter() {
        const DEAD: &str = "quickstep.dead";
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic(RESULTS, 1, 1).expect("topic");
        cluster.create_topic(DEAD, 1, 1).expect("topic");
        let brokers = cluster.bootstrap_servers();
        let (stages, metrics) = stages_with(&brokers, None, None, Arc::new(Corrupt), Some(DEAD));
        let mut tracker = run_all(&stages, vec![record(0, r#"{"boom": false}"#)]).await;
        assert_eq!(
            tracker.take_moved(),
            [(Arc::from(TOPIC), 0, 1)],
            "the offset moves on"
        );
        let results = results(&brokers, 1).await;
        assert_eq!(results[0]["status"], "FAILED");
        assert_eq!(results[0]["error"], "Quickstep.IdempotencyStoreError");
        assert!(results[0]["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed"));
        let dead = read(&brokers, DEAD, 1).await;
        assert_eq!(dead[0].payload(), Some(&br#"{"boom": false}"#[..]));
        let error = rdkafka::message::Headers::iter(dead[0].headers().expect("headers"))
            .find(|h| h.key == "quickstep-error")
            .and_then(|h| h.value)
            .expect("the error header");
        assert_eq!(error, b"Quickstep.IdempotencyStoreError");
        assert_eq!(metrics.executions.in_flight.get(), 0, "it never ran");
    }
}

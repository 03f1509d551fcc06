//! Exactly-once delivery (`delivery = "exactly-once"`): the results, history and dead
//! letters of a batch of finished records, the Kafka-task records produced meanwhile, and
//! the consumer offsets that cover them commit in one Kafka transaction of the worker's one
//! transactional producer, with the consumer's group metadata (KIP-447), so a worker that
//! lost its partitions (a zombie) cannot commit. The offset committed for a partition is its
//! first unfinished record; the records above it that finished are written into the
//! commit's metadata ([`metadata`]), and a new owner skips them.
//!
//! `Transactions` is what execution tasks share (the gate and the list of finished
//! records); `Coordinator` is the loop's: it owns the partitions' epochs and committed
//! state, commits on time and size, aborts and rewinds on errors, rebuilds a fenced
//! producer. librdkafka's transaction calls block, so they run on tokio's blocking pool.

mod ledger;
pub mod metadata;

use crate::backlog::Backlog;
use crate::commit::CommitTracker;
use crate::idempotency::{ClaimKey, RecordId};
use crate::metrics::Metrics;
use crate::source::SourceConsumer;
use crate::WorkerError;
use ledger::{key, Key, Ledgers, Read};
use rdkafka::consumer::{Consumer, ConsumerGroupMetadata};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use runtime::kafka::{KafkaSettings, TransactionGate};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A record whose outputs are in the open transaction.
#[derive(Debug)]
pub(crate) struct Finished {
    record: RecordId,
    completion: Option<Completion>,
}

/// An idempotency key to mark completed once the transaction holding its result commits
/// (before, an abort would leave a completed key with no result, and the rerun would skip
/// the record as its own duplicate).
#[derive(Debug, Clone)]
pub(crate) struct Completion {
    pub(crate) claim: ClaimKey,
    pub(crate) record: RecordId,
    pub(crate) execution_arn: String,
}

#[derive(Debug, Default)]
struct Shared {
    /// The partitions this worker owns, each with the epoch its records are admitted under:
    /// a record of an older epoch (admitted before a revoke or a rewind) writes nothing.
    epochs: HashMap<Key, u64>,
    /// Records finished in the open transaction.
    finished: Vec<Finished>,
    /// A write of the open transaction failed: it must abort.
    failed: bool,
    /// Records whose trip panicked with the transaction failed (most likely by their own
    /// half-done write): their rerun publishes the FAILED result without running again,
    /// which would panic the same way and abort every transaction after.
    panicked: HashSet<RecordId>,
}

/// What execution tasks share with the coordinator.
pub(crate) struct Transactions {
    gate: Arc<TransactionGate>,
    shared: Mutex<Shared>,
    /// Whether `Shared::panicked` may hold a record: every record's way in reads it, so
    /// while nothing has panicked (always, but for a bug) that check takes no lock and
    /// hashes no record id. Written only under the lock.
    any_panicked: AtomicBool,
}

/// A writer inside the open transaction: produce with `producer` while it lives, then
/// [`Write::finish`]. One dropped unfinished (its task aborted on a revoke, or a panic
/// mid-write) may have left outputs in the transaction that no finished record accounts
/// for: committed, they would sit beside the record's rerun as a second result, so the
/// transaction is marked failed and aborts instead.
pub(crate) struct Write<'a> {
    _open: tokio::sync::RwLockReadGuard<'a, ()>,
    transactions: &'a Transactions,
    /// The transaction's producer.
    pub(crate) producer: FutureProducer,
    /// Set by [`Write::finish`]: the record's outputs are accounted for.
    finished: bool,
}

impl Transactions {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The gate the history sink and the Kafka task produce through.
    pub(crate) fn gate(&self) -> &Arc<TransactionGate> {
        &self.gate
    }

    /// Enters the open transaction for `record`, admitted under `epoch`; `None` when its
    /// partition was revoked or rewound since (its outputs belong to a later run).
    pub(crate) async fn enter(&self, record: &RecordId, epoch: u64) -> Option<Write<'_>> {
        let open = self.gate.enter().await;
        if self.lock().epochs.get(&key(record)) != Some(&epoch) {
            return None;
        }
        Some(Write {
            _open: open,
            transactions: self,
            producer: self.gate.producer(),
            finished: false,
        })
    }

    /// Finished records in the open transaction (the loop commits early past a bound).
    pub(crate) fn pending(&self) -> usize {
        self.lock().finished.len()
    }

    /// Whether the record panicked in an earlier run whose transaction failed: it is taken
    /// off the list, and the caller publishes its FAILED result instead of running it.
    pub(crate) fn take_panicked(&self, record: &RecordId) -> bool {
        if !self.any_panicked.load(Ordering::Acquire) {
            return false;
        }
        let mut shared = self.lock();
        let taken = shared.panicked.remove(record);
        self.any_panicked
            .store(!shared.panicked.is_empty(), Ordering::Release);
        taken
    }

    fn new(producer: FutureProducer) -> Transactions {
        Transactions {
            gate: TransactionGate::new(producer),
            shared: Mutex::default(),
            any_panicked: AtomicBool::new(false),
        }
    }

    /// A test's transactions: `producer` (non-transactional will do: the tests produce,
    /// never commit) and the partitions owned, each with its epoch.
    #[cfg(test)]
    pub(crate) fn for_test(producer: FutureProducer, owned: &[(&str, i32, u64)]) -> Self {
        let transactions = Transactions::new(producer);
        for (topic, partition, epoch) in owned {
            transactions
                .lock()
                .epochs
                .insert(((*topic).to_owned(), *partition), *epoch);
        }
        transactions
    }

    /// Whether the open transaction must abort (tests).
    #[cfg(test)]
    pub(crate) fn failed(&self) -> bool {
        self.lock().failed
    }

    /// `partitions` are revoked: their records write nothing more, and what of theirs
    /// panicked is forgotten (their new owner runs them and learns of a panic itself).
    /// Returns whether any of their records finished in the open transaction.
    fn revoke(&self, partitions: &[Key]) -> bool {
        let mut shared = self.lock();
        let dirty = shared
            .finished
            .iter()
            .any(|f| partitions.contains(&key(&f.record)));
        for revoked in partitions {
            shared.epochs.remove(revoked);
        }
        shared
            .panicked
            .retain(|record| !partitions.contains(&key(record)));
        self.any_panicked
            .store(!shared.panicked.is_empty(), Ordering::Release);
        dirty
    }

    /// The open transaction's outputs are discarded (aborted): nothing finished, nothing
    /// failed. What panicked stays remembered for the rerun.
    pub(crate) fn discard(&self) {
        let mut shared = self.lock();
        shared.finished.clear();
        shared.failed = false;
    }
}

impl Write<'_> {
    /// The record's outputs are written: its offset commits with them.
    pub(crate) fn finish(mut self, record: RecordId, completion: Option<Completion>) {
        self.finished = true;
        self.transactions
            .lock()
            .finished
            .push(Finished { record, completion });
    }

    /// A write failed: the transaction aborts and its records run again.
    pub(crate) fn fail(&self) {
        self.transactions.lock().failed = true;
    }

    /// The record's trip panicked: if the transaction is failed, its rerun publishes only
    /// its FAILED result (see `Shared::panicked`).
    pub(crate) fn panicked(&self, record: &RecordId) {
        let mut shared = self.transactions.lock();
        if shared.failed {
            shared.panicked.insert(record.clone());
            self.transactions
                .any_panicked
                .store(true, Ordering::Release);
        }
    }
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // Runs before `_open` is released: the commit waiting on the gate sees it.
            self.fail();
        }
    }
}

/// A partition assigned to this worker, with what its previous owner committed.
#[derive(Debug, Clone)]
pub struct Assigned {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The committed position, if any.
    pub committed: Option<i64>,
    /// The committed offset's metadata (finished offsets above it).
    pub metadata: String,
}

/// How a failed transaction is recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// Abort the open transaction and begin the next one.
    Abort,
    /// The producer is fenced or broken: build a new one under the same transactional.id.
    Rebuild,
}

fn recovery(error: &KafkaError) -> Recovery {
    match error {
        KafkaError::Transaction(error) if error.is_fatal() => Recovery::Rebuild,
        _ => Recovery::Abort,
    }
}

/// Settings of the transaction loop.
#[derive(Debug, Clone)]
pub struct TransactionSettings {
    /// The producer's `transactional.id`.
    pub transactional_id: String,
    /// Commit this long after the transaction began.
    pub interval: Duration,
    /// Commit early once this many records finished in it.
    pub max_records: usize,
    /// `transaction.timeout.ms` (and `message.timeout.ms`); also bounds each blocking call.
    pub timeout: Duration,
}

/// The loop's side: commits, aborts, rewinds, rebuilds.
pub(crate) struct Coordinator {
    transactions: Arc<Transactions>,
    kafka: KafkaSettings,
    settings: TransactionSettings,
    ledgers: Ledgers,
    /// Records skipped since the last commit (their offsets move the position too).
    skipped: usize,
    /// Rewinds so far: the loop aborts every running execution after one.
    rewinds: u64,
    metrics: Metrics,
    /// Revokes librdkafka reported against those the loop settled (`source::Revokes`).
    revokes: Arc<crate::source::Revokes>,
}

/// Builds a transactional producer, fences its earlier incarnations and begins the first
/// transaction, off the async threads.
async fn open_producer(
    kafka: &KafkaSettings,
    settings: &TransactionSettings,
) -> Result<FutureProducer, KafkaError> {
    let producer = kafka.transactional_producer(
        &settings.transactional_id,
        settings.timeout.as_millis() as u64,
    )?;
    let timeout = settings.timeout;
    let opened = producer.clone();
    tokio::task::spawn_blocking(move || {
        opened.init_transactions(timeout)?;
        opened.begin_transaction()
    })
    .await
    .map_err(|_| KafkaError::Canceled)??;
    Ok(producer)
}

impl Coordinator {
    /// Opens the producer (`init_transactions` aborts what an earlier run under the same
    /// transactional.id left open) and begins the first transaction.
    pub(crate) async fn start(
        kafka: KafkaSettings,
        settings: TransactionSettings,
        metrics: Metrics,
    ) -> Result<Coordinator, KafkaError> {
        let producer = open_producer(&kafka, &settings).await?;
        tracing::info!(message = "Exactly-once delivery: transactional producer ready.", transactional_id = %settings.transactional_id);
        Ok(Coordinator {
            transactions: Arc::new(Transactions::new(producer)),
            kafka,
            settings,
            ledgers: Ledgers::default(),
            skipped: 0,
            rewinds: 0,
            metrics,
            revokes: Arc::default(),
        })
    }

    /// Watches the consumer's revokes: no commit while one is unsettled.
    pub(crate) fn watch_revokes(&mut self, revokes: Arc<crate::source::Revokes>) {
        self.revokes = revokes;
    }

    /// What execution tasks share.
    pub(crate) fn transactions(&self) -> Arc<Transactions> {
        self.transactions.clone()
    }

    /// How many rewinds there were: after one, every running execution is stale (its outputs
    /// and its Kafka-task records must not reach a later transaction), and the loop aborts it.
    pub(crate) fn rewinds(&self) -> u64 {
        self.rewinds
    }

    /// How often the open transaction commits.
    pub(crate) fn interval(&self) -> Duration {
        self.settings.interval
    }

    /// Whether enough records finished to commit before the interval is up.
    pub(crate) fn full(&self) -> bool {
        self.transactions.pending() >= self.settings.max_records
    }

    /// Whether `record` runs, and under which epoch (0: its partition is not ours); None when
    /// its outputs were committed already (by an earlier owner, or by an earlier transaction
    /// of ours before a rewind): then it is finished without running, or, below the
    /// committed position, dropped without being admitted.
    pub(crate) fn read(&mut self, record: &RecordId, tracker: &mut CommitTracker) -> Option<u64> {
        match self.ledgers.read(record) {
            Read::Run(epoch) => return Some(epoch),
            // Not admitted: the partition's commit position starts at the committed one; a
            // record read again has its first copy admitted already.
            Read::Below | Read::Again => {}
            Read::Finished => {
                if tracker.admit(record) {
                    tracker.finish(record);
                }
                self.skipped += 1;
            }
        }
        self.metrics.records_skipped.inc();
        None
    }

    /// Partitions assigned: tracked from their committed position, skipping what their
    /// previous owner finished above it.
    pub(crate) async fn assigned(
        &mut self,
        partitions: Vec<Assigned>,
        tracker: &mut CommitTracker,
    ) {
        let gate = self.transactions.gate.clone();
        let _closed = gate.close().await;
        let mut shared = self.transactions.lock();
        for assigned in partitions {
            let key = (assigned.topic.clone(), assigned.partition);
            let epoch = self
                .ledgers
                .assign(key.clone(), assigned.committed, &assigned.metadata);
            tracing::debug!(message = "Partition assigned.", topic = %assigned.topic, partition = assigned.partition, committed = assigned.committed, epoch);
            shared.epochs.insert(key, epoch);
            tracker.assign(&assigned.topic, assigned.partition);
            if assigned.metadata.starts_with("qs1:") {
                tracing::info!(message = "Partition assigned with finished records above its committed offset; they will be skipped.", topic = %assigned.topic, partition = assigned.partition, committed = assigned.committed);
            }
        }
    }

    /// Partitions revoked (already gone: librdkafka revoked them before the loop heard).
    /// Their records' outputs in the open transaction must not commit, since the new owner
    /// runs them again from the committed offset: if there are any (or Kafka-task records,
    /// which cannot be told apart), the transaction aborts and the remaining partitions
    /// rewind; otherwise it commits without them.
    pub(crate) async fn revoked(
        &mut self,
        partitions: &[(String, i32)],
        tracker: &mut CommitTracker,
        consumer: &SourceConsumer,
        backlog: &mut Backlog,
    ) -> Result<Vec<Completion>, WorkerError> {
        let gate = self.transactions.gate.clone();
        let _closed = gate.close().await;
        let dirty = self.transactions.revoke(partitions);
        tracing::debug!(message = "Partitions revoked.", ?partitions, dirty);
        for (topic, partition) in partitions {
            self.ledgers.revoke(&(topic.clone(), *partition));
            tracker.revoke(topic, *partition);
        }
        backlog.retain(|r| tracker.owns(&r.id.topic, r.id.partition));
        if dirty || gate.take_task_writes() > 0 {
            tracing::info!(
                message =
                    "Partitions revoked with their outputs in the open transaction: aborting it.",
                count = partitions.len()
            );
            self.recover(None, tracker, consumer, backlog).await?;
            return Ok(Vec::new());
        }
        self.commit_closed(tracker, consumer, backlog).await
    }

    /// Commits the open transaction (when anything is in it) and begins the next; on an
    /// error aborts (or rebuilds the producer) and rewinds. The completions of the
    /// committed records are returned for the caller to mark.
    pub(crate) async fn commit(
        &mut self,
        tracker: &mut CommitTracker,
        consumer: &SourceConsumer,
        backlog: &mut Backlog,
    ) -> Result<Vec<Completion>, WorkerError> {
        let gate = self.transactions.gate.clone();
        let _closed = gate.close().await;
        self.commit_closed(tracker, consumer, backlog).await
    }

    async fn commit_closed(
        &mut self,
        tracker: &mut CommitTracker,
        consumer: &SourceConsumer,
        backlog: &mut Backlog,
    ) -> Result<Vec<Completion>, WorkerError> {
        // The group metadata first, then no unsettled revoke: the metadata is then of the
        // generation the loop knows (see `source::Revokes`). With one unsettled, the commit
        // waits: the loop hears the revoke next and settles the transaction in `revoked`.
        let group = consumer.group_metadata();
        if self.revokes.unsettled() {
            tracing::info!(message = "A revoke is not settled yet; the commit waits for it.");
            return Ok(Vec::new());
        }
        let (finished, failed) = {
            let mut shared = self.transactions.lock();
            (
                std::mem::take(&mut shared.finished),
                std::mem::take(&mut shared.failed),
            )
        };
        let task_writes = self.transactions.gate.take_task_writes();
        if finished.is_empty() && task_writes == 0 && self.skipped == 0 && !failed {
            return Ok(Vec::new());
        }
        if failed {
            self.recover(None, tracker, consumer, backlog).await?;
            return Ok(Vec::new());
        }
        let mut completions = Vec::new();
        for done in finished {
            tracker.finish(&done.record);
            completions.extend(done.completion);
        }
        let positions = match self.ledgers.positions(tracker) {
            Ok(positions) => positions,
            Err(error) => {
                tracing::warn!(message = "Offset metadata too large; aborting the transaction (raise the broker's offset.metadata.max.bytes if this repeats).", %error);
                self.recover(None, tracker, consumer, backlog).await?;
                return Ok(Vec::new());
            }
        };
        let mut offsets = TopicPartitionList::new();
        for position in &positions {
            let (topic, partition) = &position.key;
            offsets.add_partition_offset(topic, *partition, Offset::Offset(position.offset))?;
            if let Some(mut element) = offsets.find_partition(topic, *partition) {
                element.set_metadata(position.metadata.as_str());
            }
        }
        let producer = self.transactions.gate.producer();
        let timeout = self.settings.timeout;
        let committed = tokio::task::spawn_blocking(move || {
            commit_blocking(&producer, &offsets, group.as_ref(), timeout)
                .map(|()| producer.begin_transaction())
        })
        .await
        .map_err(|_| KafkaError::Canceled)
        .and_then(|r| r);
        match committed {
            Ok(begun) => {
                if tracing::enabled!(tracing::Level::DEBUG) {
                    let at: Vec<String> = positions
                        .iter()
                        .map(|p| format!("{}/{}@{}", p.key.0, p.key.1, p.offset))
                        .collect();
                    tracing::debug!(message = "Transaction committed.", records = completions.len(), offsets = ?at);
                }
                self.skipped = 0;
                self.metrics
                    .transactions
                    .with_label_values(&["committed"])
                    .inc();
                self.ledgers.committed(positions);
                if let Err(error) = begun {
                    // Committed, but no transaction is open: nothing to rewind.
                    tracing::warn!(message = "Cannot begin the next transaction; rebuilding the producer.", %error);
                    self.rebuild().await?;
                }
                Ok(completions)
            }
            Err(error) => {
                self.recover(Some(error), tracker, consumer, backlog)
                    .await?;
                Ok(Vec::new())
            }
        }
    }

    /// Aborts the open transaction (or, when the producer is fenced or broken, replaces it),
    /// begins the next, and rewinds every partition to its committed position: the records
    /// whose outputs were discarded run again. Called with the gate closed.
    async fn recover(
        &mut self,
        error: Option<KafkaError>,
        tracker: &mut CommitTracker,
        consumer: &SourceConsumer,
        backlog: &mut Backlog,
    ) -> Result<(), WorkerError> {
        self.transactions.discard();
        self.transactions.gate.take_task_writes();
        let mut how = error.as_ref().map_or(Recovery::Abort, recovery);
        if let Some(error) = &error {
            tracing::warn!(message = "Transaction failed; its outputs are discarded and its records run again.", %error, rebuild = (how == Recovery::Rebuild));
        }
        if how == Recovery::Abort {
            let producer = self.transactions.gate.producer();
            let timeout = self.settings.timeout;
            let aborted = tokio::task::spawn_blocking(move || {
                producer.abort_transaction(timeout)?;
                producer.begin_transaction()
            })
            .await
            .map_err(|_| KafkaError::Canceled)
            .and_then(|r| r);
            match aborted {
                Ok(()) => {
                    self.metrics
                        .transactions
                        .with_label_values(&["aborted"])
                        .inc();
                }
                Err(error) => {
                    tracing::warn!(message = "Abort failed; rebuilding the producer.", %error);
                    how = Recovery::Rebuild;
                }
            }
        }
        if how == Recovery::Rebuild {
            self.rebuild().await?;
        }
        self.rewind(tracker, consumer, backlog)
    }

    /// A new producer under the same transactional.id: `init_transactions` fences the old
    /// one and settles what it left open (a commit that timed out may still complete, which
    /// is why a rewind reads the committed offsets back from the broker).
    async fn rebuild(&mut self) -> Result<(), WorkerError> {
        self.metrics
            .transactions
            .with_label_values(&["fenced"])
            .inc();
        let mut delay = Duration::from_millis(200);
        let mut attempts = 0;
        let producer = loop {
            match open_producer(&self.kafka, &self.settings).await {
                Ok(producer) => break producer,
                Err(error) if attempts < 10 => {
                    tracing::warn!(message = "Cannot rebuild the transactional producer; retrying.", %error);
                    attempts += 1;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(error) => return Err(WorkerError::Kafka(error)),
            }
        };
        self.transactions.gate.replace(producer);
        Ok(())
    }

    /// Every partition back to its committed position under a new epoch. The position and
    /// the finished offsets above it are read back from the broker (stable offsets: no
    /// transaction of ours is open on them now), not taken from memory, so an outcome this
    /// worker could not see (a commit that timed out and completed anyway) counts too.
    fn rewind(
        &mut self,
        tracker: &mut CommitTracker,
        consumer: &SourceConsumer,
        backlog: &mut Backlog,
    ) -> Result<(), WorkerError> {
        self.skipped = 0;
        self.rewinds += 1;
        let mut owned = TopicPartitionList::new();
        for (topic, partition) in self.ledgers.keys() {
            owned.add_partition(topic, *partition);
        }
        if owned.count() == 0 {
            backlog.retain(|_| false);
            return Ok(());
        }
        let committed = committed_offsets(consumer, owned)?;
        let mut seek = TopicPartitionList::new();
        {
            let mut shared = self.transactions.lock();
            for element in committed.elements() {
                let key = (element.topic().to_owned(), element.partition());
                let position = element.offset().to_raw().filter(|o| *o >= 0);
                let Some((epoch, from)) = self.ledgers.rewind(&key, position, element.metadata())
                else {
                    continue;
                };
                tracing::debug!(message = "Partition rewound.", topic = element.topic(), partition = element.partition(), from = ?from, epoch);
                shared.epochs.insert(key, epoch);
                tracker.revoke(element.topic(), element.partition());
                tracker.assign(element.topic(), element.partition());
                let offset = from.map_or(Offset::Beginning, Offset::Offset);
                seek.add_partition_offset(element.topic(), element.partition(), offset)?;
            }
        }
        backlog.retain(|_| false);
        let sought = consumer.seek_partitions(seek, Duration::from_secs(10))?;
        for element in sought.elements() {
            if let Err(error) = element.error() {
                // Reading on from where the consumer is would skip the discarded records.
                tracing::error!(message = "Cannot rewind a partition after an aborted transaction; stopping.", %error, topic = element.topic(), partition = element.partition());
                return Err(WorkerError::Kafka(error));
            }
        }
        tracing::info!(
            message = "Partitions rewound to their committed offsets.",
            count = sought.count()
        );
        Ok(())
    }
}

/// The committed offsets (with their metadata) of `partitions`, asked of the broker; a
/// few tries, since a rewind cannot go on without them.
pub(crate) fn committed_offsets<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
    consumer: &C,
    partitions: TopicPartitionList,
) -> Result<TopicPartitionList, KafkaError> {
    let mut attempt = 0;
    loop {
        // A partition's own error (the broker could not say) is the whole answer's: taken
        // as "nothing committed", its records would run again from wherever the consumer is.
        let answer = consumer
            .committed_offsets(partitions.clone(), Duration::from_secs(10))
            .and_then(
                |list| match list.elements().iter().find_map(|e| e.error().err()) {
                    Some(error) => Err(error),
                    None => Ok(list),
                },
            );
        match answer {
            Ok(list) => return Ok(list),
            Err(error) if attempt < 3 => {
                tracing::warn!(message = "Cannot read committed offsets; retrying.", %error);
                attempt += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Sends the offsets and commits, retrying what librdkafka calls retriable (a timed-out
/// call may be repeated).
fn commit_blocking(
    producer: &FutureProducer,
    offsets: &TopicPartitionList,
    group: Option<&ConsumerGroupMetadata>,
    timeout: Duration,
) -> Result<(), KafkaError> {
    fn retried(mut call: impl FnMut() -> Result<(), KafkaError>) -> Result<(), KafkaError> {
        let mut attempt = 0;
        loop {
            match call() {
                Err(KafkaError::Transaction(error)) if error.is_retriable() && attempt < 3 => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
    if offsets.count() > 0 {
        let group = group.ok_or(KafkaError::Canceled)?;
        retried(|| producer.send_offsets_to_transaction(offsets, group, timeout))?;
    }
    retried(|| producer.commit_transaction(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::ClientConfig;

    /// A gate over a producer that never connects: these tests only enter and leave it.
    fn transactions(record: &RecordId, epoch: u64) -> Transactions {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .create()
            .expect("producer");
        Transactions::for_test(
            producer,
            &[(record.topic.as_ref(), record.partition, epoch)],
        )
    }

    #[tokio::test]
    async fn a_write_dropped_unfinished_fails_the_transaction() {
        let record = RecordId::new("quickstep.start", 0, 7);
        let transactions = transactions(&record, 1);
        // A task aborted (or panicking) between its first produce and `finish`.
        let write = transactions.enter(&record, 1).await.expect("entered");
        drop(write);
        let shared = transactions.lock();
        assert!(
            shared.failed,
            "outputs of no finished record must not commit"
        );
        assert!(shared.finished.is_empty());
    }

    #[tokio::test]
    async fn a_finished_write_leaves_the_transaction_to_commit() {
        let record = RecordId::new("quickstep.start", 0, 7);
        let transactions = transactions(&record, 1);
        let write = transactions.enter(&record, 1).await.expect("entered");
        write.finish(record.clone(), None);
        assert!(!transactions.lock().failed);
        assert_eq!(transactions.pending(), 1);
        assert!(
            transactions.enter(&record, 2).await.is_none(),
            "a record of an older epoch writes nothing"
        );
        assert!(!transactions.lock().failed, "and fails nothing");
    }

    #[tokio::test]
    async fn a_revoke_forgets_its_partitions_panics_and_says_whether_they_finished_records() {
        let (kept, revoked) = (
            RecordId::new("quickstep.start", 0, 7),
            RecordId::new("quickstep.start", 1, 9),
        );
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .create()
            .expect("producer");
        let transactions = Transactions::for_test(
            producer,
            &[("quickstep.start", 0, 1), ("quickstep.start", 1, 1)],
        );
        // Both records panicked mid-write: the transaction failed, their reruns only fail.
        for record in [&kept, &revoked] {
            let write = transactions.enter(record, 1).await.expect("entered");
            write.fail();
            write.panicked(record);
        }
        transactions.discard();
        let finished = transactions.enter(&revoked, 1).await.expect("entered");
        finished.finish(revoked.clone(), None);
        assert!(
            transactions.revoke(&[("quickstep.start".to_owned(), 1)]),
            "a record of the revoked partition finished in the open transaction"
        );
        assert!(
            !transactions.take_panicked(&revoked),
            "its new owner learns of the panic itself"
        );
        assert!(
            transactions.take_panicked(&kept),
            "the kept partition's stays"
        );
        assert!(
            transactions.enter(&revoked, 1).await.is_none(),
            "a revoked partition writes nothing"
        );
        assert!(
            !transactions.revoke(&[("quickstep.start".to_owned(), 0)]),
            "nothing of partition 0 finished"
        );
    }

    /// The committed-offset read of an assignment: a partition the broker answers with its
    /// own error makes the whole answer an error, never "nothing committed" (records would
    /// run again from wherever the consumer is); a partition it knows answers.
    #[test]
    fn a_partition_s_own_error_in_the_committed_offsets_is_an_error() {
        let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        cluster
            .create_topic("quickstep.start", 1, 1)
            .expect("topic");
        let consumer: rdkafka::consumer::BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("group.id", "committed-offsets-test")
            .create()
            .expect("consumer");
        let mut known = TopicPartitionList::new();
        known.add_partition("quickstep.start", 0);
        let answer = committed_offsets(&consumer, known).expect("a known partition answers");
        assert_eq!(
            answer.elements()[0].offset(),
            rdkafka::Offset::Invalid,
            "nothing committed yet"
        );
        // Partition 7 does not exist: the broker answers it UNKNOWN_TOPIC_OR_PART.
        let mut unknown = TopicPartitionList::new();
        unknown.add_partition("quickstep.start", 0);
        unknown.add_partition("quickstep.start", 7);
        let error = committed_offsets(&consumer, unknown).expect_err("not nothing committed");
        assert!(
            matches!(
                error,
                KafkaError::OffsetFetch(rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition)
            ),
            "{error:?}"
        );
    }
}

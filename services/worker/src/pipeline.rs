//! The worker as a whole: `Worker::build` connects to Kafka and the idempotency store and
//! assembles the stages; `Worker::run` is the loop that reads the partitions into the
//! backlog, starts executions, stores finished offsets in order and follows rebalances,
//! then drains on shutdown.

use crate::admit::Admit;
use crate::backlog::{flow, Backlog, RECORDS_PER_TURN};
use crate::commit::CommitTracker;
use crate::config::{self, Delivery, IdempotencyKind, WorkerConfig};
use crate::emit::Emitter;
use crate::execute::{start, Done, Stages};
use crate::idempotency::{IdempotencyStore, MemoryStore, RedisStore};
use crate::metrics::Metrics;
use crate::source::{self, RebalanceEvent, SourceConsumer};
use crate::transaction::{Coordinator, TransactionSettings};
use crate::{serve, WorkerError};
use asl::history::Level;
use futures::{FutureExt as _, StreamExt as _};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use runtime::clock;
use runtime::execute::Executor;
use runtime::follow;
use runtime::registry::Registry;
use runtime::sinks::{Framing, HistoryFormat, HistoryProducer, HistorySinkKind};
use runtime::start_rate;
use runtime::tasks;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A built worker, ready to run.
pub struct Worker {
    config: WorkerConfig,
    consumer: SourceConsumer,
    rebalances: tokio::sync::mpsc::UnboundedReceiver<RebalanceEvent>,
    /// Revokes reported and settled: exactly-once commits only when they agree.
    revokes: Arc<source::Revokes>,
    admit: Arc<Admit>,
    executor: Arc<Executor>,
    emitter: Arc<Emitter>,
    metrics: Metrics,
    registry: Arc<Registry>,
    registry_progress: Arc<follow::RegistryProgress>,
    callbacks: Arc<tasks::callback::CallbackRegistry>,
    /// Set once a rebalance has placed this worker in the group (`/readyz`).
    ready: Arc<std::sync::atomic::AtomicBool>,
    /// Exactly-once: the transaction loop (taken by `run`).
    coordinator: Option<Coordinator>,
}

impl Worker {
    /// Connects to Kafka (creating missing topics) and the idempotency store, loads the
    /// definitions, and joins the group.
    pub async fn build(config: WorkerConfig, metrics: Metrics) -> Result<Worker, WorkerError> {
        config.validate()?;
        let token_keys = Arc::new(config.task_token_keys()?);
        let registry = Arc::new(Registry::new(&config.region, &config.account));
        if let Some(dir) = &config.definitions {
            for error in registry.load_dir(dir)? {
                tracing::warn!(message = "Definition not loaded.", %error);
            }
        }
        let mut topics: Vec<&str> = config.triggers.iter().map(|t| t.topic.as_str()).collect();
        topics.push(&config.results_topic);
        topics.push(&config.registry_topic);
        let history_kind = HistorySinkKind::parse(&config.history).map_err(config::ConfigError)?;
        if let HistorySinkKind::Kafka(topic) = &history_kind {
            topics.push(topic);
        }
        if let Some(topic) = &config.dead_letter_topic {
            topics.push(topic);
        }
        if config.tasks.callbacks.enabled {
            topics.push(&config.tasks.callbacks.topic);
        }
        let kafka = config.producer_kafka_settings();
        // The profile's settings are for producers: consumers and the admin client go without.
        let consumers = config.consumer_kafka_settings();
        consumers.ensure_topics(&topics).await?;
        let store: Option<Arc<dyn IdempotencyStore>> =
            match IdempotencyKind::parse(&config.idempotency).map_err(config::ConfigError)? {
                IdempotencyKind::Off => None,
                IdempotencyKind::Memory => Some(Arc::new(MemoryStore::new())),
                IdempotencyKind::Redis(url) => {
                    Some(Arc::new(RedisStore::connect(&url, "quickstep").await?))
                }
            };
        let (producer, coordinator) = match config.delivery {
            Delivery::AtLeastOnce => (kafka.producer()?, None),
            Delivery::ExactlyOnce => {
                let coordinator = Coordinator::start(
                    kafka.clone(),
                    TransactionSettings {
                        transactional_id: config.transactional_id(),
                        interval: Duration::from_millis(config.transaction_interval_ms),
                        max_records: config.transaction_max_records,
                        timeout: Duration::from_millis(config.transaction_timeout_ms),
                    },
                    metrics.clone(),
                )
                .await?;
                let producer = coordinator.transactions().gate().producer();
                (producer, Some(coordinator))
            }
        };
        let gate = coordinator
            .as_ref()
            .map(|c| c.transactions().gate().clone());
        let framing = Framing {
            format: HistoryFormat::parse(&config.history_format).map_err(config::ConfigError)?,
            max_record_bytes: kafka.max_message_bytes(),
        };
        let history = match (&gate, history_kind) {
            // At-least-once, Kafka history has a producer of its own that accounts for an
            // execution's records together (runtime::sinks::kafka).
            (None, kind @ HistorySinkKind::Kafka(_)) => {
                let producer = HistoryProducer::new(&kafka.producer_config())?;
                kind.open_counted(&producer, framing).await?
            }
            (None, kind) => kind.open(&producer).await?,
            (Some(gate), kind) => kind.open_transactional(gate, framing).await?,
        };
        metrics.max_in_flight.set(config.max_in_flight as i64);
        let registry_progress =
            follow::RegistryProgress::connect(&consumers, &config.registry_topic)?;
        let admit = Admit::new(
            registry.clone(),
            Some(registry_progress.clone() as Arc<dyn follow::RegistrySync>),
            store.clone(),
            &config.triggers,
            start_rate::StartLimits::new(
                config.start_rate_per_second,
                &config.start_rates_per_second,
            ),
            metrics.clone(),
        )?;
        // Task integrations (issue 4): the producer serves the Kafka task; the registry
        // holds `.waitForTaskToken` tokens, answered through the callback topic.
        let callbacks = tasks::callback::CallbackRegistry::new(
            Arc::new(clock::SystemClock),
            token_keys.clone(),
        );
        let mut integrations =
            tasks::Integrations::new(&config.tasks, Some(producer.clone()), callbacks.clone())?;
        if let Some(gate) = gate {
            integrations = integrations.with_transactions(gate);
        }
        let executor = Executor::new(
            Arc::new(integrations),
            Arc::new(clock::SystemClock),
            Arc::new(clock::system_rng()),
            token_keys,
            metrics.executions.clone(),
            Level::parse(&config.history_level).unwrap_or_default(),
            config.include_execution_data,
        );
        let emitter = Emitter::new(
            producer,
            config.results_topic.clone(),
            config.dead_letter_topic.clone(),
            history,
            store,
            Duration::from_secs(config.idempotency_window_seconds),
            metrics.clone(),
        );
        let (consumer, rebalances, revokes) =
            source::consumer(&config, metrics.consumer_lag.clone())?;
        let coordinator = coordinator.map(|mut c| {
            c.watch_revokes(revokes.clone());
            c
        });
        Ok(Worker {
            config,
            consumer,
            rebalances,
            revokes,
            admit: Arc::new(admit),
            executor: Arc::new(executor),
            emitter: Arc::new(emitter),
            metrics,
            registry,
            registry_progress,
            callbacks,
            ready: Arc::default(),
            coordinator,
        })
    }

    /// The `.waitForTaskToken` tokens this worker's executions wait on (the gateway's
    /// SendTask* calls in the same process deliver here first).
    pub fn callbacks(&self) -> Arc<tasks::callback::CallbackRegistry> {
        self.callbacks.clone()
    }

    /// The registry this worker runs from.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Runs until `shutdown`: then stops fetching, lets in-flight executions finish within
    /// the grace period, commits, and leaves the group.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let mut side_tasks = JoinSet::new();
        // Side tasks stop with the worker: abort on exit is their cancel policy.
        side_tasks.spawn(follow::follow(
            self.registry_progress.clone(),
            self.registry.clone(),
            shutdown.clone(),
        ));
        if self.config.tasks.callbacks.enabled {
            let overrides = self
                .config
                .kafka
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            match tasks::callback::callback_consumer(
                &self.config.brokers,
                &self.config.group,
                &overrides,
                &self.config.tasks.callbacks.topic,
            ) {
                Ok(consumer) => {
                    side_tasks.spawn(tasks::callback::follow(
                        consumer,
                        self.callbacks.clone(),
                        self.metrics.callbacks_rejected.clone(),
                        shutdown.clone(),
                    ));
                }
                Err(error) => {
                    tracing::error!(message = "Cannot follow the callback topic.", %error)
                }
            }
        }
        if let Some(address) = self.config.metrics_address.clone() {
            let listener = tokio::net::TcpListener::bind(&address)
                .await
                .map_err(WorkerError::Serve)?;
            tracing::info!(message = "Serving metrics.", address = %listener.local_addr().map_err(WorkerError::Serve)?);
            side_tasks.spawn(serve::metrics(
                listener,
                self.metrics.clone(),
                self.ready.clone(),
                shutdown.clone(),
            ));
        }
        let mut coordinator = self.coordinator.take();
        let stages = Arc::new(Stages {
            admit: self.admit.clone(),
            executor: self.executor.clone(),
            emitter: self.emitter.clone(),
            shutdown: shutdown.clone(),
            transactions: coordinator.as_ref().map(Coordinator::transactions),
        });
        // Exactly-once: keys completed after their transaction committed.
        let mut completions: JoinSet<()> = JoinSet::new();
        let interval = coordinator
            .as_ref()
            .map_or(Duration::from_secs(3600), Coordinator::interval);
        let commit_timer = tokio::time::sleep(interval);
        tokio::pin!(commit_timer);
        let mut tracker = CommitTracker::default();
        let mut executions: JoinSet<Done> = JoinSet::new();
        // Exactly-once: each running execution's task, so that those whose outputs can no
        // longer commit (partition revoked, transaction aborted) stop — a Kafka task of
        // theirs would otherwise write into a later transaction, and the record's next run
        // would write it again.
        let mut running: Running = HashMap::new();
        let mut backlog = Backlog::default();
        let mut paused = false;
        let max_in_flight = self.config.max_in_flight;
        // One stream for the worker's life: each `recv` would register a waker slot anew.
        let mut messages = self.consumer.stream();
        loop {
            while executions.len() < max_in_flight {
                let Some(record) = backlog.pop_front() else {
                    break;
                };
                match &mut coordinator {
                    None => {
                        start(record, 0, &stages, &mut tracker, &mut executions);
                    }
                    Some(coordinator) => {
                        let Some(epoch) = coordinator.read(&record.id, &mut tracker) else {
                            continue;
                        };
                        let id = record.id.clone();
                        if let Some(task) =
                            start(record, epoch, &stages, &mut tracker, &mut executions)
                        {
                            running.insert(id, task);
                        }
                    }
                }
            }
            let pause = flow(paused, backlog.bytes, self.config.max_buffered_bytes);
            if pause != paused {
                self.set_paused(pause);
                paused = pause;
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(event) = self.rebalances.recv() => {
                    if matches!(event, RebalanceEvent::Revoked(_)) {
                        self.revokes.settled_one();
                    }
                    match &mut coordinator {
                        None => self.rebalanced(event, &mut tracker, &mut backlog),
                        Some(coordinator) => {
                            let rewinds = coordinator.rewinds();
                            if let RebalanceEvent::Revoked(partitions) = &event {
                                abort_running(&mut running, |id| {
                                    partitions.iter().any(|(t, p)| *t == id.topic && *p == id.partition)
                                });
                            }
                            let done = self
                                .rebalanced_in(coordinator, event, &mut tracker, &mut backlog)
                                .await;
                            if coordinator.rewinds() != rewinds {
                                abort_running(&mut running, |_| true);
                            }
                            if let Err(error) = self.completed(done, &mut completions, &shutdown) {
                                executions.abort_all();
                                return Err(error);
                            }
                        }
                    }
                    // librdkafka keeps a partition's pause flag across revoke and re-assign:
                    // a partition revoked while full and assigned again after the resume
                    // would stay paused forever, and a new one would run past the bound.
                    // Every assigned partition follows the worker's state.
                    self.set_paused(paused);
                }
                _ = &mut commit_timer, if coordinator.is_some() => {
                    if let Some(coordinator) = &mut coordinator {
                        let committed = self
                            .commit_tick(coordinator, &mut tracker, &mut backlog, &mut running, &mut completions, &shutdown)
                            .await;
                        if let Err(error) = committed {
                            executions.abort_all();
                            return Err(error);
                        }
                    }
                    commit_timer.as_mut().reset(tokio::time::Instant::now() + interval);
                }
                Some(_) = completions.join_next(), if !completions.is_empty() => {}
                Some(done) = executions.join_next(), if !executions.is_empty() => {
                    if let Some(coordinator) = &mut coordinator {
                        // Exactly-once: finished records are in the transaction's list; a
                        // task's end only frees its slot. Commit early past the size bound.
                        let mut next = Some(done);
                        while let Some(done) = next {
                            // An aborted task was taken out of `running` when it was aborted.
                            if let Ok(done) = done {
                                running.remove(&done.record);
                            }
                            next = executions.try_join_next();
                        }
                        if coordinator.full() {
                            let rewinds = coordinator.rewinds();
                            let done = coordinator.commit(&mut tracker, &self.consumer, &mut backlog).await;
                            if coordinator.rewinds() != rewinds {
                                abort_running(&mut running, |_| true);
                            }
                            if let Err(error) = self.completed(done, &mut completions, &shutdown) {
                                executions.abort_all();
                                return Err(error);
                            }
                            commit_timer.as_mut().reset(tokio::time::Instant::now() + interval);
                        }
                        continue;
                    }
                    // Every execution that has finished by now, with one offset store for
                    // all of them: under load they finish in bursts.
                    let mut next = Some(done);
                    while let Some(done) = next {
                        match done {
                            Ok(done) => self.finish(done, &mut tracker),
                            // Panics are caught inside the task (`execute::start`), which
                            // then still reports its record; only a cancelled task lands here.
                            Err(error) => tracing::error!(message = "An execution task failed.", %error),
                        }
                        next = executions.try_join_next();
                    }
                    self.store_offsets(&tracker.take_moved());
                },
                Some(message) = messages.next() => {
                    backlog.take(message);
                    // With it, whatever else librdkafka has fetched already: a turn of this
                    // loop per record would poll every branch above for each. Up to the
                    // backlog's bound; the stream loses nothing when it is not ready.
                    for _ in 1..RECORDS_PER_TURN {
                        if backlog.bytes >= self.config.max_buffered_bytes {
                            break;
                        }
                        let Some(Some(message)) = messages.next().now_or_never() else {
                            break;
                        };
                        backlog.take(message);
                    }
                },
            }
        }
        tracing::info!(message = "Draining.", in_flight = executions.len());
        self.set_paused(true);
        let grace = tokio::time::sleep(Duration::from_secs(self.config.shutdown_grace_seconds));
        tokio::pin!(grace);
        while !executions.is_empty() {
            tokio::select! {
                _ = &mut grace => {
                    tracing::warn!(message = "Grace period over; leaving unfinished executions to be redelivered.", in_flight = executions.len());
                    break;
                }
                // Exactly-once: transactions go on committing while executions drain.
                _ = &mut commit_timer, if coordinator.is_some() => {
                    if let Some(coordinator) = &mut coordinator {
                        let committed = self
                            .commit_tick(coordinator, &mut tracker, &mut backlog, &mut running, &mut completions, &shutdown)
                            .await;
                        if let Err(error) = committed {
                            executions.abort_all();
                            return Err(error);
                        }
                    }
                    commit_timer.as_mut().reset(tokio::time::Instant::now() + interval);
                }
                Some(done) = executions.join_next() => if let (Ok(done), None) = (done, &coordinator) {
                    self.finish(done, &mut tracker);
                    self.store_offsets(&tracker.take_moved());
                },
            }
        }
        executions.abort_all();
        match &mut coordinator {
            None => self.commit_final(&tracker),
            Some(coordinator) => {
                let done = coordinator
                    .commit(&mut tracker, &self.consumer, &mut backlog)
                    .await;
                let result = self.completed(done, &mut completions, &shutdown);
                while completions.join_next().await.is_some() {}
                result?;
            }
        }
        self.consumer.unsubscribe();
        side_tasks.abort_all();
        Ok(())
    }

    /// Marks a record finished; `tracker.take_moved` then has its partition's new commit
    /// position, if it moved.
    fn finish(&self, done: Done, tracker: &mut CommitTracker) {
        if done.committed && tracker.finish(&done.record).is_some() {
            self.metrics
                .commit_latency
                .observe(done.finished_at.elapsed().as_secs_f64());
        }
    }

    /// Stores commit positions for the consumer's auto-commit to send.
    fn store_offsets(&self, positions: &[(Arc<str>, i32, i64)]) {
        if positions.is_empty() {
            return;
        }
        if let Err(error) = self.consumer.store_offsets(&partition_list(positions)) {
            tracing::debug!(message = "Offsets not stored (partition revoked?).", %error);
        }
    }

    fn rebalanced(
        &self,
        event: RebalanceEvent,
        tracker: &mut CommitTracker,
        backlog: &mut Backlog,
    ) {
        match event {
            RebalanceEvent::Assigned(partitions) => {
                for (topic, partition) in &partitions {
                    tracker.assign(topic, *partition);
                }
                self.ready.store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(message = "Partitions assigned.", count = partitions.len());
            }
            RebalanceEvent::AssignedCommitted(_) => {
                tracing::error!(
                    message = "Exactly-once assignment in at-least-once mode; ignored."
                );
            }
            RebalanceEvent::Revoked(partitions) => {
                for (topic, partition) in &partitions {
                    tracker.revoke(topic, *partition);
                    self.metrics
                        .consumer_lag
                        .remove_label_values(&[topic, &partition.to_string()])
                        .ok();
                }
                backlog.retain(|r| tracker.owns(&r.id.topic, r.id.partition));
                tracing::info!(message = "Partitions revoked.", count = partitions.len());
            }
        }
    }

    /// Exactly-once, on the commit timer (in the loop and while draining): commits the open
    /// transaction; after a rewind every running execution stops (its record runs again),
    /// and the committed keys are handed on.
    async fn commit_tick(
        &self,
        coordinator: &mut Coordinator,
        tracker: &mut CommitTracker,
        backlog: &mut Backlog,
        running: &mut Running,
        completions: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let rewinds = coordinator.rewinds();
        let done = coordinator.commit(tracker, &self.consumer, backlog).await;
        if coordinator.rewinds() != rewinds {
            abort_running(running, |_| true);
        }
        self.completed(done, completions, shutdown)
    }

    /// Exactly-once: hands a committed transaction's keys to a task that completes them.
    fn completed(
        &self,
        done: Result<Vec<crate::transaction::Completion>, WorkerError>,
        completions: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) -> Result<(), WorkerError> {
        let done = done?;
        if !done.is_empty() {
            let emitter = self.emitter.clone();
            let shutdown = shutdown.clone();
            // Owned by the loop's JoinSet and awaited at shutdown (the completions stop
            // retrying once shutdown is signalled).
            completions.spawn(async move { emitter.complete_all(done, &shutdown).await });
        }
        Ok(())
    }

    /// Exactly-once rebalances: assignments come with their committed offsets; a revoke
    /// settles the open transaction first.
    async fn rebalanced_in(
        &self,
        coordinator: &mut Coordinator,
        event: RebalanceEvent,
        tracker: &mut CommitTracker,
        backlog: &mut Backlog,
    ) -> Result<Vec<crate::transaction::Completion>, WorkerError> {
        match event {
            RebalanceEvent::AssignedCommitted(assigned) => {
                let assigned = assigned?;
                tracing::info!(message = "Partitions assigned.", count = assigned.len());
                coordinator.assigned(assigned, tracker).await;
                self.ready.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(Vec::new())
            }
            RebalanceEvent::Revoked(partitions) => {
                for (topic, partition) in &partitions {
                    self.metrics
                        .consumer_lag
                        .remove_label_values(&[topic, &partition.to_string()])
                        .ok();
                }
                tracing::info!(message = "Partitions revoked.", count = partitions.len());
                coordinator
                    .revoked(&partitions, tracker, &self.consumer, backlog)
                    .await
            }
            RebalanceEvent::Assigned(partitions) => {
                // Not sent in this mode; without committed offsets nothing can be skipped.
                tracing::error!(
                    message = "Assignment without committed offsets in exactly-once mode.",
                    count = partitions.len()
                );
                Err(WorkerError::Config(config::ConfigError(
                    "exactly-once assignment without committed offsets".into(),
                )))
            }
        }
    }

    fn set_paused(&self, pause: bool) {
        let Ok(assignment) = self.consumer.assignment() else {
            return;
        };
        let result = if pause {
            self.consumer.pause(&assignment)
        } else {
            self.consumer.resume(&assignment)
        };
        if let Err(error) = result {
            tracing::warn!(message = "Pausing or resuming partitions failed.", %error, pause);
        }
    }

    fn commit_final(&self, tracker: &CommitTracker) {
        let list = partition_list(&tracker.positions());
        if list.count() > 0 {
            if let Err(error) = self.consumer.commit(&list, CommitMode::Sync) {
                tracing::warn!(message = "Final commit failed.", %error);
            }
        }
    }
}

/// Exactly-once: the abort handles of running executions, by record.
type Running = HashMap<crate::idempotency::RecordId, tokio::task::AbortHandle>;

/// Stops the running executions of the records `stale` picks.
fn abort_running(running: &mut Running, stale: impl Fn(&crate::idempotency::RecordId) -> bool) {
    running.retain(|id, task| {
        if stale(id) {
            task.abort();
        }
        !stale(id)
    });
}

/// The librdkafka list of (topic, partition, position)s.
fn partition_list(positions: &[(Arc<str>, i32, i64)]) -> TopicPartitionList {
    let mut list = TopicPartitionList::with_capacity(positions.len());
    for (topic, partition, position) in positions {
        // Fails only for an invalid offset, which a position never is.
        list.add_partition_offset(topic, *partition, Offset::Offset(*position))
            .ok();
    }
    list
}

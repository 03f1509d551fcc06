//! The worker as a whole: `Worker::build` connects to Kafka and the idempotency store and
//! assembles the stages; `Worker::run` is the loop that reads the partitions into the
//! backlog, starts executions, stores finished offsets in order and follows rebalances,
//! then drains on shutdown.

use crate::admit::Admit;
use crate::backlog::{flow, Backlog, RECORDS_PER_TURN};
use crate::commit::CommitTracker;
use crate::config::{self, IdempotencyKind, WorkerConfig};
use crate::emit::Emitter;
use crate::execute::{start, Done, Stages};
use crate::idempotency::{IdempotencyStore, MemoryStore, RedisStore};
use crate::metrics::Metrics;
use crate::source::{self, RebalanceEvent, SourceConsumer};
use crate::{serve, WorkerError};
use asl::history::Level;
use futures::{FutureExt as _, StreamExt as _};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use runtime::clock;
use runtime::execute::Executor;
use runtime::follow;
use runtime::registry::Registry;
use runtime::sinks::HistorySinkKind;
use runtime::start_rate;
use runtime::tasks;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A built worker, ready to run.
pub struct Worker {
    config: WorkerConfig,
    consumer: SourceConsumer,
    rebalances: tokio::sync::mpsc::UnboundedReceiver<RebalanceEvent>,
    admit: Arc<Admit>,
    executor: Arc<Executor>,
    emitter: Arc<Emitter>,
    metrics: Metrics,
    registry: Arc<Registry>,
    registry_progress: Arc<follow::RegistryProgress>,
    callbacks: Arc<tasks::callback::CallbackRegistry>,
    /// Set once a rebalance has placed this worker in the group (`/readyz`).
    ready: Arc<std::sync::atomic::AtomicBool>,
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
        let kafka = config.kafka_settings();
        kafka.ensure_topics(&topics).await?;
        let store: Option<Arc<dyn IdempotencyStore>> =
            match IdempotencyKind::parse(&config.idempotency).map_err(config::ConfigError)? {
                IdempotencyKind::Off => None,
                IdempotencyKind::Memory => Some(Arc::new(MemoryStore::new())),
                IdempotencyKind::Redis(url) => {
                    Some(Arc::new(RedisStore::connect(&url, "quickstep").await?))
                }
            };
        let producer = kafka.producer()?;
        let history = history_kind.open(&producer).await?;
        metrics.max_in_flight.set(config.max_in_flight as i64);
        let registry_progress = follow::RegistryProgress::new(
            Arc::new(kafka.registry_consumer()?),
            config.registry_topic.clone(),
        );
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
        let integrations =
            tasks::Integrations::new(&config.tasks, Some(producer.clone()), callbacks.clone())?;
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
        let (consumer, rebalances) = source::consumer(&config, metrics.consumer_lag.clone())?;
        Ok(Worker {
            config,
            consumer,
            rebalances,
            admit: Arc::new(admit),
            executor: Arc::new(executor),
            emitter: Arc::new(emitter),
            metrics,
            registry,
            registry_progress,
            callbacks,
            ready: Arc::default(),
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
        let stages = Arc::new(Stages {
            admit: self.admit.clone(),
            executor: self.executor.clone(),
            emitter: self.emitter.clone(),
            shutdown: shutdown.clone(),
        });
        let mut tracker = CommitTracker::default();
        let mut executions: JoinSet<Done> = JoinSet::new();
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
                start(record, &stages, &mut tracker, &mut executions);
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
                    self.rebalanced(event, &mut tracker, &mut backlog);
                    // librdkafka keeps a partition's pause flag across revoke and re-assign:
                    // a partition revoked while full and assigned again after the resume
                    // would stay paused forever, and a new one would run past the bound.
                    // Every assigned partition follows the worker's state.
                    self.set_paused(paused);
                }
                Some(done) = executions.join_next(), if !executions.is_empty() => {
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
                Some(done) = executions.join_next() => if let Ok(done) = done {
                    self.finish(done, &mut tracker);
                    self.store_offsets(&tracker.take_moved());
                },
            }
        }
        executions.abort_all();
        self.commit_final(&tracker);
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

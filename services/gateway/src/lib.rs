//! The Step Functions HTTP API (AWS JSON 1.0) in front of Quickstep: state machines are
//! validated and written to the compacted registry topic every worker follows; StartExecution
//! produces a start record; StartSyncExecution and TestState run in this process on the same
//! engine, task integrations, history and metrics as a worker. The AWS CLI and SDKs work
//! against it with `--endpoint-url`.

#![forbid(unsafe_code)]

pub mod auth;
pub mod callbacks;
pub mod config;
pub mod console;
pub mod executions;
pub mod metrics;
pub mod protocol;
pub mod publish;
pub mod read;
pub mod serve;
pub mod state_machines;
pub mod test_state;

use crate::config::GatewayConfig;
use crate::metrics::Metrics;
use crate::protocol::{ApiError, Operation};
use crate::publish::{KafkaPublisher, MemoryPublisher, Publisher, PublisherSink};
use crate::state_machines::Catalog;
use asl::history::Level;
use asl::interpret::Rng;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rdkafka::producer::FutureProducer;
use runtime::clock::{system_rng, SystemClock};
use runtime::execute::Executor;
use runtime::registry::Registry;
use runtime::sinks::{HistorySink, HistorySinkKind};
use runtime::tasks::callback::CallbackRegistry;
use runtime::tasks::Integrations;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a request that names an unknown state machine waits for the registry's second
/// look (see [`Gateway::second_look`]); a round takes a broker round trip or two.
const SECOND_LOOK_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Why the gateway could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Kafka refused a client or a topic.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The history sink could not be opened.
    #[error(transparent)]
    Sink(#[from] runtime::sinks::SinkError),
    /// The task integrations could not be built.
    #[error(transparent)]
    Tasks(#[from] runtime::tasks::TasksError),
    /// Listening without authentication on an address others can reach.
    #[error("refusing to serve {0} without authentication: configure access keys, listen on a loopback address, or pass --allow-unauthenticated")]
    Unauthenticated(std::net::SocketAddr),
    /// The listener failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    /// The execution store could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// A built gateway: shared by every request.
pub struct Gateway {
    config: GatewayConfig,
    catalog: Catalog,
    publisher: Arc<dyn Publisher>,
    executor: Executor,
    /// The task integrations the executor runs (TestState falls back on them).
    executor_tasks: Arc<dyn asl::TaskHandler>,
    /// Task tokens this gateway's own sync executions wait on.
    callbacks: Arc<CallbackRegistry>,
    history: Option<Arc<dyn HistorySink>>,
    metrics: Metrics,
    sync_slots: Semaphore,
    /// Token buckets of StartExecution and StartSyncExecution, per state machine.
    start_limits: runtime::start_rate::StartLimits,
    rng: runtime::clock::SystemRng,
    /// Follows the registry topic, and how far it has read (absent for an in-memory
    /// gateway): `/readyz` answers once it has read the topic to its end — before, a start of
    /// a state machine registered through another gateway would be refused as unknown.
    follower: Option<Arc<runtime::follow::RegistryProgress>>,
    /// Executions and their history, for the read APIs and the console.
    store: Option<Arc<store::Store>>,
    /// Feeds the store from Kafka (absent for an in-memory gateway).
    store_reader: Option<(rdkafka::consumer::StreamConsumer, store::ingest::Topics)>,
}

impl Gateway {
    /// Connects to Kafka (creating missing topics) and subscribes to the registry topic.
    pub async fn build(config: GatewayConfig, metrics: Metrics) -> Result<Gateway, GatewayError> {
        config.validate()?;
        let kafka = config.kafka_settings();
        let history_kind = HistorySinkKind::parse(&config.history).map_err(config::ConfigError)?;
        let mut topics = vec![
            config.registry_topic.as_str(),
            config.start_topic.as_str(),
            config.callbacks_topic.as_str(),
        ];
        if let HistorySinkKind::Kafka(topic) = &history_kind {
            topics.push(topic);
        }
        let store_topics = store::ingest::Topics {
            results: config.results_topic.clone(),
            history: config.store_history_topic(),
        };
        topics.extend(store_topics.names());
        kafka.ensure_topics(&topics).await?;
        // The Kafka task integration produces as a worker's does; the gateway's own records
        // (start records, results, registry writes) go through a producer of their own,
        // tuned for requests that each wait for their record's acknowledgement.
        let producer = kafka.producer()?;
        let follower = runtime::follow::RegistryProgress::connect(&kafka, &config.registry_topic)?;
        let publisher = Arc::new(KafkaPublisher::connect(
            &kafka,
            publish::Lingers {
                publish_ms: config.produce_linger_ms,
                enqueue_ms: config.produce_enqueue_linger_ms,
            },
            std::time::Duration::from_millis(config.produce_timeout_ms),
        )?);
        let mut gateway = Gateway::assemble(config, publisher, metrics, Some(producer.clone()))?;
        if gateway.history.is_none() {
            gateway.history = history_kind.open(&producer).await?;
        }
        if gateway.store.is_some() {
            let reader = kafka.reader_from_beginning("store", &store_topics.names())?;
            gateway.store_reader = Some((reader, store_topics));
        }
        gateway.follower = Some(follower);
        Ok(gateway)
    }

    /// A gateway without Kafka: records are kept in the returned publisher (tests).
    pub fn in_memory(
        config: GatewayConfig,
    ) -> Result<(Gateway, Arc<MemoryPublisher>), GatewayError> {
        let publisher = Arc::new(MemoryPublisher::default());
        let gateway = Gateway::assemble(config, publisher.clone(), Metrics::default(), None)?;
        Ok((gateway, publisher))
    }

    /// The gateway's parts. Sync executions run on the same integrations as a worker's,
    /// from the same `[tasks]` configuration (`producer` serves the Kafka task); their
    /// callbacks are this process's.
    fn assemble(
        config: GatewayConfig,
        publisher: Arc<dyn Publisher>,
        metrics: Metrics,
        producer: Option<FutureProducer>,
    ) -> Result<Gateway, GatewayError> {
        let registry = Arc::new(Registry::new(&config.region, &config.account));
        let token_keys = Arc::new(config.task_token_keys()?);
        let callbacks = CallbackRegistry::new(Arc::new(SystemClock), token_keys.clone());
        let tasks: Arc<dyn asl::TaskHandler> = Arc::new(Integrations::new(
            &config.tasks,
            producer,
            callbacks.clone(),
        )?);
        // Sync history to Kafka goes through the publisher, as results do (in-memory
        // gateways keep it); other sinks are opened by `build`.
        let history: Option<Arc<dyn HistorySink>> =
            match HistorySinkKind::parse(&config.history).map_err(config::ConfigError)? {
                HistorySinkKind::Kafka(topic) => {
                    Some(Arc::new(PublisherSink::new(publisher.clone(), topic)))
                }
                _ => None,
            };
        let store = match config::StoreKind::parse(&config.store).map_err(config::ConfigError)? {
            config::StoreKind::Off => None,
            kind => {
                let path = match &kind {
                    config::StoreKind::File(path) => Some(path.as_path()),
                    _ => None,
                };
                let retention = store::Retention {
                    max_age: Some(std::time::Duration::from_secs(
                        config.store_retention_hours.saturating_mul(3600),
                    )),
                    max_bytes: Some(config.store_max_bytes),
                };
                Some(Arc::new(store::Store::open(path, retention)?))
            }
        };
        let executor = Executor::new(
            tasks.clone(),
            Arc::new(SystemClock),
            Arc::new(system_rng()),
            token_keys,
            metrics.executions.clone(),
            Level::parse(&config.history_level).unwrap_or_default(),
            config.include_execution_data,
        );
        Ok(Gateway {
            catalog: Catalog::new(registry),
            publisher,
            executor,
            executor_tasks: tasks,
            callbacks,
            history,
            store,
            store_reader: None,
            sync_slots: Semaphore::new(config.max_sync_in_flight),
            start_limits: runtime::start_rate::StartLimits::new(
                config.start_rate_per_second,
                &config.start_rates_per_second,
            ),
            metrics,
            rng: system_rng(),
            follower: None,
            config,
        })
    }

    /// The registry the gateway runs sync executions from.
    pub fn registry(&self) -> Arc<Registry> {
        self.catalog.registry()
    }

    /// The metrics `/metrics` renders.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The execution store, when on.
    pub fn store(&self) -> Option<&Arc<store::Store>> {
        self.store.as_ref()
    }

    /// This gateway answering the read APIs from `store` (shared, already filled) instead of
    /// its own: the fuzz target builds a fresh gateway per input around one store.
    pub fn with_store(mut self, store: Arc<store::Store>) -> Gateway {
        self.store = Some(store);
        self
    }

    /// Registers a definition as CreateStateMachine would (EXPRESS, no logging), replacing
    /// one of the same name: how `quickstep dev` registers the examples.
    pub async fn register(&self, name: &str, definition: &str) -> Result<String, ApiError> {
        state_machines::put(self, name, definition).await
    }

    /// Whether the registry has been read to its end since the gateway started (an
    /// in-memory gateway has nothing to read: it knows every state machine it has).
    pub fn ready(&self) -> bool {
        self.follower
            .as_ref()
            .is_none_or(|progress| progress.confirmed())
    }

    /// A look-up of the state machine registry (`look`); on a miss, a second look once the
    /// registry has read every revision written before this call. AWS lets a caller start,
    /// describe or update a state machine as soon as CreateStateMachine returns, and with
    /// several gateways behind one address the create may have gone to another one a moment
    /// ago. The wait is one catch-up round (concurrent misses share it), at most
    /// [`SECOND_LOOK_LIMIT`]; only a miss pays it.
    pub(crate) async fn second_look<T>(&self, look: impl Fn() -> Option<T>) -> Option<T> {
        if let Some(found) = look() {
            return Some(found);
        }
        let follower = self.follower.as_ref()?;
        if tokio::time::timeout(SECOND_LOOK_LIMIT, follower.read_to_now())
            .await
            .is_err()
        {
            tracing::warn!(message = "The registry did not catch up for a second look.");
        }
        look()
    }

    /// The HTTP routes: the API on any path (SDKs post to `/`; any `Host`, so the `sync-`
    /// prefix SDKs add for StartSyncExecution works), `/metrics`, `/healthz` (the process
    /// answers) and `/readyz` (it has read the registry).
    pub fn router(self: Arc<Self>) -> Router {
        let metrics = self.clone();
        let readiness = self.clone();
        Router::new()
            .route(
                "/metrics",
                get(move || async move { metrics.metrics.render() }),
            )
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(move || async move {
                    if readiness.ready() {
                        (axum::http::StatusCode::OK, "ready")
                    } else {
                        (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            "reading the state machine registry",
                        )
                    }
                }),
            )
            .merge(console::routes())
            .fallback(api)
            .with_state(self)
    }

    /// Serves on `listener` until `shutdown`, following the registry topic meanwhile.
    /// Refuses a non-loopback address without authentication unless the configuration
    /// allows it.
    pub async fn serve(
        mut self,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), GatewayError> {
        let address = listener.local_addr()?;
        if !address.ip().is_loopback()
            && !self.config.authenticates()
            && !self.config.allow_unauthenticated
        {
            return Err(GatewayError::Unauthenticated(address));
        }
        let store_reader = self.store_reader.take();
        let gateway = Arc::new(self);
        let following = gateway.follower.clone().map(|progress| {
            let gateway = gateway.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                tokio::join!(
                    follow_registry(&progress, &gateway, shutdown.clone()),
                    until_read(&progress, shutdown.clone()),
                )
            })
        });
        // Owned here and awaited after the server stops; it ends on `shutdown` or when the
        // server does (its own child token, so a failed server stops no one else).
        let reader_stop = shutdown.child_token();
        let ingesting = match (store_reader, &gateway.store) {
            (Some((consumer, topics)), Some(store)) => Some(tokio::spawn(store::ingest::run(
                store.clone(),
                consumer,
                topics,
                Arc::new(gateway.metrics.clone()),
                reader_stop.clone(),
            ))),
            _ => None,
        };
        tracing::info!(message = "Serving the Step Functions API.", %address, authenticated = gateway.config.authenticates());
        let limits = serve::Limits {
            header_read_timeout: std::time::Duration::from_secs(
                gateway.config.header_read_timeout_seconds,
            ),
            idle_timeout: std::time::Duration::from_secs(gateway.config.idle_timeout_seconds),
            max_connections: gateway.config.max_connections,
        };
        let served =
            serve::serve(listener, gateway.clone().router(), limits, shutdown.clone()).await;
        if let Some(following) = following {
            following.abort();
        }
        if let Some(ingesting) = ingesting {
            reader_stop.cancel();
            if let Err(error) = ingesting.await {
                tracing::warn!(message = "The execution store reader failed.", %error);
            }
        }
        served.map_err(GatewayError::Io)
    }

    /// A place among the sync executions running here, or ThrottlingException.
    pub(crate) fn sync_slot(&self, operation: Operation) -> Result<SyncSlot<'_>, ApiError> {
        let permit = self.sync_slots.try_acquire().map_err(|_| {
            ApiError::Throttling(format!(
                "Rate exceeded: more than {} {} calls at once",
                self.config.max_sync_in_flight,
                operation.as_str()
            ))
        })?;
        self.metrics.sync_in_flight.inc();
        Ok(SyncSlot {
            _permit: permit,
            gauge: &self.metrics.sync_in_flight,
        })
    }

    /// A token from the state machine's start bucket, or ThrottlingException (AWS's
    /// "Rate exceeded", HTTP 400), counted per state machine.
    pub(crate) fn start_token(&self, state_machine: &str) -> Result<(), ApiError> {
        self.start_limits.check(state_machine).map_err(|over| {
            self.metrics
                .executions_throttled
                .with_label_values(&[state_machine])
                .inc();
            ApiError::Throttling(format!(
                "Rate exceeded: state machine '{state_machine}' starts at most {} executions per second",
                over.per_second
            ))
        })
    }

    /// A fresh v4 UUID, for execution names.
    pub(crate) fn uuid(&self) -> String {
        let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
        let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// A new W3C traceparent (random trace and span ids, sampled).
    pub(crate) fn traceparent(&self) -> String {
        format!(
            "00-{:016x}{:016x}-{:016x}-01",
            self.rng.next_u64(),
            self.rng.next_u64(),
            self.rng.next_u64()
        )
    }

    async fn handle(
        &self,
        operation: Result<Operation, ApiError>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Response, ApiError> {
        let limit = self.config.max_request_bytes;
        let too_large =
            || ApiError::RequestTooLarge(format!("The request body exceeds {limit} bytes"));
        let declared = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        // A client that sent its headers must send the body promptly: a slow trickle would
        // hold this task, its connection and the body buffer for ever.
        let seconds = self.config.body_read_timeout_seconds;
        let body = tokio::time::timeout(
            std::time::Duration::from_secs(seconds),
            axum::body::to_bytes(body, limit),
        )
        .await
        .map_err(|_| {
            ApiError::RequestTimeout(format!(
                "The request body did not arrive within {seconds} seconds"
            ))
        })?
        .map_err(|_| too_large())?;
        if self.config.authenticates() {
            auth::verify(&self.config.access_keys, method, uri, headers, &body)?;
        }
        let operation = operation?;
        match operation {
            Operation::CreateStateMachine => state_machines::create(self, &body).await,
            Operation::DescribeStateMachine => state_machines::describe(self, &body).await,
            Operation::UpdateStateMachine => state_machines::update(self, &body).await,
            Operation::DeleteStateMachine => state_machines::delete(self, &body).await,
            Operation::ListStateMachines => state_machines::list(self, &body),
            Operation::ValidateStateMachineDefinition => state_machines::validate(&body),
            Operation::StartExecution => executions::start(self, headers, &body).await,
            Operation::StartSyncExecution => executions::start_sync(self, headers, &body).await,
            Operation::TestState => test_state::test_state(self, &body).await,
            Operation::SendTaskSuccess
            | Operation::SendTaskFailure
            | Operation::SendTaskHeartbeat => callbacks::send(self, operation, &body).await,
            Operation::ListExecutions => read::list_executions(self, &body).await,
            Operation::DescribeExecution => read::describe_execution(self, &body).await,
            Operation::GetExecutionHistory => read::get_execution_history(self, &body).await,
            Operation::DescribeStateMachineForExecution => {
                read::describe_state_machine_for_execution(self, &body).await
            }
        }
    }
}

/// A running sync execution's place; freed on drop.
pub(crate) struct SyncSlot<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    gauge: &'a prometheus::IntGauge,
}

impl Drop for SyncSlot<'_> {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Every API request: decode, authenticate, dispatch, count.
async fn api(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let operation = protocol::operation(&headers);
    let label = operation
        .as_ref()
        .map(|op| op.as_str())
        .unwrap_or("Unknown");
    let response = match gateway
        .handle(operation.clone(), &method, &uri, &headers, body)
        .await
    {
        Ok(response) => response,
        Err(error) => {
            if matches!(error, ApiError::Throttling(_)) {
                gateway.metrics.throttled.with_label_values(&[label]).inc();
            }
            if matches!(error, ApiError::Internal(_)) {
                tracing::warn!(message = "Request failed.", operation = label, %error);
            }
            error.into_response()
        }
    };
    gateway
        .metrics
        .requests
        .with_label_values(&[label, response.status().as_str()])
        .inc();
    gateway
        .metrics
        .request_duration
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Follows the compacted registry topic from its beginning, so several gateways (and the
/// workers) agree on every state machine.
async fn follow_registry(
    progress: &runtime::follow::RegistryProgress,
    gateway: &Gateway,
    shutdown: CancellationToken,
) {
    let apply =
        |name: &str, payload: Option<&[u8]>, _: Option<i64>| gateway.catalog.follow(name, payload);
    runtime::follow::read(progress.consumer(), Some(progress), apply, shutdown).await
}

/// Asks for the registry's end until a round confirms it read (the gateway is then ready),
/// again each second until then (the broker unreachable, the topic still loading).
async fn until_read(progress: &runtime::follow::RegistryProgress, shutdown: CancellationToken) {
    use runtime::follow::RegistrySync as _;
    loop {
        progress.catch_up(None).await;
        if progress.confirmed() {
            tracing::info!(message = "State machine registry read; ready.");
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

//! The Kafka worker: the consume pipeline — source → admit → execute → emit → commit — with
//! idempotency. A `Worker` joins the consumer group, runs the executions that start records
//! ask for on the shared runtime (`runtime`: executor, registry, task integrations, sinks),
//! and leaves nothing behind but results, history and committed offsets.

#![forbid(unsafe_code)]

pub mod admit;
mod backlog;
pub mod commit;
pub mod config;
pub mod emit;
mod execute;
pub mod idempotency;
pub mod metrics;
mod pipeline;
pub mod serve;
pub mod source;
pub mod transaction;

pub use pipeline::Worker;

/// Why a worker could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Kafka refused a client or a topic.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The idempotency store could not be set up.
    #[error("idempotency store: {0}")]
    Store(#[from] idempotency::StoreError),
    /// The definitions could not be loaded.
    #[error(transparent)]
    Registry(#[from] runtime::registry::RegistryError),
    /// A trigger's JSONPath is invalid.
    #[error(transparent)]
    Trigger(#[from] admit::TriggerError),
    /// The history sink could not be opened.
    #[error(transparent)]
    Sink(#[from] runtime::sinks::SinkError),
    /// The task integrations could not be built.
    #[error(transparent)]
    Tasks(#[from] runtime::tasks::TasksError),
    /// The metrics endpoint could not listen.
    #[error("metrics endpoint: {0}")]
    Serve(std::io::Error),
}

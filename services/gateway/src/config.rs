//! The gateway's configuration as plain data (the worker's `*Config` style): every field is
//! documented for the user, defaults live in named `default_*` functions, units are in the
//! names. The binary layers defaults → file → `QUICKSTEP_GATEWAY_*` env → flags into it.

use runtime::kafka::{KafkaSettings, KafkaValue};
use runtime::task_token::{TaskTokenKeys, TaskTokenSecret};
use runtime::tasks::config::TasksConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything `quickstep gateway` needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where the API listens, `host:port`.
    #[serde(default = "default_address")]
    pub address: String,
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// The compacted topic of state machine revisions (written here, followed by everyone).
    #[serde(default = "default_registry_topic")]
    pub registry_topic: String,
    /// Where StartExecution produces start records.
    #[serde(default = "default_start_topic")]
    pub start_topic: String,
    /// Where SendTask{Success,Failure,Heartbeat} are produced for the workers.
    #[serde(default = "default_callbacks_topic")]
    pub callbacks_topic: String,
    /// Region and account in the ARNs (the same as the workers').
    #[serde(default = "default_region")]
    pub region: String,
    /// See `region`.
    #[serde(default = "default_account")]
    pub account: String,
    /// SigV4 access keys: access key id → secret access key. Empty = no authentication.
    #[serde(default)]
    pub access_keys: BTreeMap<String, String>,
    /// Listen on a non-loopback address without authentication anyway.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// The largest request body accepted, in bytes.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Seconds a client has to send a request's line and headers, counted from when the
    /// connection is ready for one (accepted, or its last answer sent); a slower client
    /// (slowloris) is disconnected.
    #[serde(default = "default_header_read_timeout_seconds")]
    pub header_read_timeout_seconds: u64,
    /// Seconds a keep-alive connection may sit with no request in flight before it is
    /// closed. hyper's header timer also runs on an idle connection, so the shorter of this
    /// and `header_read_timeout_seconds` closes it.
    #[serde(default = "default_idle_timeout_seconds")]
    pub idle_timeout_seconds: u64,
    /// Seconds a client has to send a request's whole body once its headers are in;
    /// a slower one gets RequestTimeoutException (408).
    #[serde(default = "default_body_read_timeout_seconds")]
    pub body_read_timeout_seconds: u64,
    /// Connections served at once; more wait in the listen backlog until one closes.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// StartSyncExecution/TestState calls running at once; more get ThrottlingException.
    #[serde(default = "default_max_sync_in_flight")]
    pub max_sync_in_flight: usize,
    /// Milliseconds the gateway's producer waits to fill a batch (librdkafka's `linger.ms`).
    /// Every StartExecution waits for its own record's acknowledgement, so this is latency
    /// each one pays; batches come from the requests in flight together anyway (the worker's
    /// producer lingers 5 ms, where throughput matters more than latency).
    #[serde(default = "default_produce_linger_ms")]
    pub produce_linger_ms: u64,
    /// Milliseconds the producer of records nobody waits for (a StartSyncExecution's result
    /// record) waits to fill a batch. The answer never waits for them, so a fuller batch
    /// costs no request anything, and Kafka and the execution stores reading the results
    /// topic less per record.
    #[serde(default = "default_produce_enqueue_linger_ms")]
    pub produce_enqueue_linger_ms: u64,
    /// Milliseconds a record may wait for Kafka's acknowledgement; then the request answers
    /// InternalFailure (and librdkafka gives the record up: its `message.timeout.ms`).
    #[serde(default = "default_produce_timeout_ms")]
    pub produce_timeout_ms: u64,
    /// StartExecution + StartSyncExecution calls per second per state machine (a token bucket
    /// whose burst is the rate); more get ThrottlingException. None when absent.
    #[serde(default)]
    pub start_rate_per_second: Option<u32>,
    /// Start rates of particular state machines, name → calls per second; each replaces
    /// `start_rate_per_second` for its machine.
    #[serde(default)]
    pub start_rates_per_second: BTreeMap<String, u32>,
    /// `express` checks definitions as AWS checks EXPRESS machines (no `.sync`,
    /// `.waitForTaskToken`, activities); `standard` accepts those patterns too (Quickstep's
    /// workers run callbacks).
    #[serde(default = "default_definition_rules")]
    pub definition_rules: String,
    /// History of sync executions: `off`, `stdout`, `file:PATH` or `kafka:TOPIC`.
    #[serde(default = "default_history")]
    pub history: String,
    /// `ALL`, `ERROR`, `FATAL` or `OFF`, for state machines whose logging sets none.
    #[serde(default = "default_history_level")]
    pub history_level: String,
    /// Whether history events carry inputs and outputs.
    #[serde(default)]
    pub include_execution_data: bool,
    /// Partitions of topics the gateway creates when they are missing.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Extra librdkafka settings for every client.
    #[serde(default)]
    pub kafka: BTreeMap<String, KafkaValue>,
    /// Task integrations of sync executions (the same `[tasks]` section as the worker's).
    #[serde(default)]
    pub tasks: TasksConfig,
    /// Where sync executions publish their results, and the execution store reads results.
    #[serde(default = "default_results_topic")]
    pub results_topic: String,
    /// The execution store behind ListExecutions, DescribeExecution, GetExecutionHistory and
    /// the console: `off`, `memory`, or `file:PATH` (a scratch file, emptied at start: the
    /// store is rebuilt from the results and history topics).
    #[serde(default = "default_store")]
    pub store: String,
    /// The history topic the store reads; by default the topic of `history = "kafka:TOPIC"`.
    #[serde(default)]
    pub store_history_topic: Option<String>,
    /// Executions that started longer ago than this many hours leave the store.
    #[serde(default = "default_store_retention_hours")]
    pub store_retention_hours: u64,
    /// The store's size limit in bytes; the oldest executions leave first.
    #[serde(default = "default_store_max_bytes")]
    pub store_max_bytes: u64,
    /// The key task tokens are signed with (at least 32 bytes), the same as the workers';
    /// required (env QUICKSTEP_TASK_TOKEN_KEY). SendTask* calls with a token it did not sign
    /// answer InvalidToken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token_key: Option<TaskTokenSecret>,
    /// The key before the current one, still accepted during a rotation
    /// (env QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token_previous_key: Option<TaskTokenSecret>,
}

fn default_results_topic() -> String {
    "quickstep.results".into()
}
fn default_store() -> String {
    "off".into()
}
fn default_store_retention_hours() -> u64 {
    24
}
fn default_store_max_bytes() -> u64 {
    1 << 30
}

/// Where the execution store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// No store: the read APIs answer that it is off.
    Off,
    /// In memory.
    Memory,
    /// A scratch file.
    File(std::path::PathBuf),
}

impl StoreKind {
    /// Parses `off`, `memory` or `file:PATH`.
    pub fn parse(text: &str) -> Result<StoreKind, String> {
        match text {
            "off" => Ok(StoreKind::Off),
            "memory" => Ok(StoreKind::Memory),
            _ => match text.strip_prefix("file:") {
                Some(path) if !path.is_empty() => Ok(StoreKind::File(path.into())),
                _ => Err(format!(
                    "store must be off, memory or file:PATH, not '{text}'"
                )),
            },
        }
    }
}

fn default_address() -> String {
    "127.0.0.1:8080".into()
}
fn default_brokers() -> String {
    "127.0.0.1:9092".into()
}
fn default_registry_topic() -> String {
    "quickstep.state-machines".into()
}
fn default_start_topic() -> String {
    "quickstep.start".into()
}
fn default_callbacks_topic() -> String {
    "quickstep.callbacks".into()
}
fn default_region() -> String {
    "local".into()
}
fn default_account() -> String {
    "000000000000".into()
}
fn default_max_request_bytes() -> usize {
    // A definition may be 1 MiB; a request carries one plus its envelope.
    2 * 1024 * 1024
}
fn default_header_read_timeout_seconds() -> u64 {
    // hyper's own default; SDKs send a request's head in one write.
    30
}
fn default_idle_timeout_seconds() -> u64 {
    // Longer than SDKs' pools keep a connection unused (botocore/urllib3 and the Java SDK:
    // up to 60 s), so they see few resets; bounded so idle sockets do not pile up.
    60
}
fn default_body_read_timeout_seconds() -> u64 {
    // 2 MiB at a slow 100 KiB/s still fits.
    30
}
fn default_max_connections() -> usize {
    // Well under the usual 1024 open-files limit, leaving room for Kafka and files.
    512
}
fn default_max_sync_in_flight() -> usize {
    1024
}
fn default_produce_linger_ms() -> u64 {
    1
}
fn default_produce_enqueue_linger_ms() -> u64 {
    // The worker's linger: its results are records nobody waits for too.
    5
}
fn default_produce_timeout_ms() -> u64 {
    30_000
}
fn default_definition_rules() -> String {
    "express".into()
}
fn default_history() -> String {
    "off".into()
}
fn default_history_level() -> String {
    "OFF".into()
}
fn default_partitions() -> i32 {
    6
}

impl Default for GatewayConfig {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

/// A configuration that cannot work, named.
#[derive(Debug, thiserror::Error)]
#[error("invalid gateway configuration: {0}")]
pub struct ConfigError(pub String);

impl GatewayConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_sync_in_flight == 0 {
            return Err(ConfigError("max_sync_in_flight must be at least 1".into()));
        }
        for (name, seconds) in [
            (
                "header_read_timeout_seconds",
                self.header_read_timeout_seconds,
            ),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
            ("body_read_timeout_seconds", self.body_read_timeout_seconds),
        ] {
            if seconds == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        if self.max_connections == 0 {
            return Err(ConfigError("max_connections must be at least 1".into()));
        }
        if self.produce_timeout_ms == 0 {
            return Err(ConfigError("produce_timeout_ms must be at least 1".into()));
        }
        // librdkafka refuses a producer whose records would time out before their batch left.
        for (name, linger_ms) in [
            ("produce_linger_ms", self.produce_linger_ms),
            ("produce_enqueue_linger_ms", self.produce_enqueue_linger_ms),
        ] {
            if linger_ms >= self.produce_timeout_ms {
                return Err(ConfigError(format!(
                    "{name} ({linger_ms}) must be below produce_timeout_ms ({})",
                    self.produce_timeout_ms
                )));
            }
        }
        runtime::start_rate::check(self.start_rate_per_second, &self.start_rates_per_second)
            .map_err(ConfigError)?;
        if self.max_request_bytes < 1024 {
            return Err(ConfigError(
                "max_request_bytes must be at least 1024".into(),
            ));
        }
        if !matches!(self.definition_rules.as_str(), "express" | "standard") {
            return Err(ConfigError(format!(
                "definition_rules must be express or standard, not '{}'",
                self.definition_rules
            )));
        }
        if asl::history::Level::parse(&self.history_level).is_none() {
            return Err(ConfigError(format!(
                "history_level must be ALL, ERROR, FATAL or OFF, not '{}'",
                self.history_level
            )));
        }
        runtime::sinks::HistorySinkKind::parse(&self.history).map_err(ConfigError)?;
        StoreKind::parse(&self.store).map_err(ConfigError)?;
        if self.store_retention_hours == 0 || self.store_max_bytes < 1 << 20 {
            return Err(ConfigError(
                "store_retention_hours must be at least 1 and store_max_bytes at least 1048576"
                    .into(),
            ));
        }
        self.task_token_keys()?;
        Ok(())
    }

    /// The history topic the execution store reads, if any.
    pub fn store_history_topic(&self) -> Option<String> {
        self.store_history_topic.clone().or_else(|| {
            match runtime::sinks::HistorySinkKind::parse(&self.history) {
                Ok(runtime::sinks::HistorySinkKind::Kafka(topic)) => Some(topic),
                _ => None,
            }
        })
    }

    /// The task token keys: the configured key and previous key (none is an error).
    pub fn task_token_keys(&self) -> Result<TaskTokenKeys, ConfigError> {
        TaskTokenKeys::from_config(
            self.task_token_key.as_ref(),
            self.task_token_previous_key.as_ref(),
        )
        .map_err(|e| ConfigError(e.to_string()))
    }

    /// Whether requests must be signed.
    pub fn authenticates(&self) -> bool {
        !self.access_keys.is_empty()
    }

    /// What the gateway's Kafka clients share.
    pub fn kafka_settings(&self) -> KafkaSettings {
        KafkaSettings {
            brokers: self.brokers.clone(),
            client_group: "quickstep-gateway".into(),
            registry_topic: self.registry_topic.clone(),
            partitions: self.partitions,
            overrides: self.kafka.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_with_a_task_token_key_are_valid_and_loopback() {
        let error = GatewayConfig::default().validate().unwrap_err().to_string();
        assert!(error.contains("QUICKSTEP_TASK_TOKEN_KEY"), "{error}");
        let config = GatewayConfig {
            task_token_key: Some(TaskTokenSecret::new("k".repeat(32))),
            ..GatewayConfig::default()
        };
        config.validate().expect("the defaults work");
        assert_eq!(config.address, "127.0.0.1:8080");
        assert!(!config.authenticates());
    }

    #[test]
    fn the_producer_settings_default_to_a_short_linger_and_a_finite_timeout() {
        let config = GatewayConfig::default();
        assert_eq!(config.produce_linger_ms, 1);
        assert_eq!(config.produce_enqueue_linger_ms, 5);
        assert_eq!(config.produce_timeout_ms, 30_000);
        let config = GatewayConfig {
            produce_timeout_ms: 0,
            ..GatewayConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("produce_timeout_ms"));
        let config = GatewayConfig {
            produce_enqueue_linger_ms: 30_000,
            ..GatewayConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("produce_enqueue_linger_ms (30000) must be below produce_timeout_ms"));
    }

    #[test]
    fn store_settings_are_checked() {
        assert_eq!(StoreKind::parse("memory"), Ok(StoreKind::Memory));
        assert_eq!(
            StoreKind::parse("file:/tmp/s.db"),
            Ok(StoreKind::File("/tmp/s.db".into()))
        );
        for bad in ["file:", "sqlite", ""] {
            let config = GatewayConfig {
                store: bad.into(),
                ..GatewayConfig::default()
            };
            assert!(
                config
                    .validate()
                    .unwrap_err()
                    .to_string()
                    .contains("store must be"),
                "{bad}"
            );
        }
        let config = GatewayConfig {
            store_retention_hours: 0,
            ..GatewayConfig::default()
        };
        assert!(config.validate().is_err());
        let config = GatewayConfig {
            store_max_bytes: 10,
            ..GatewayConfig::default()
        };
        assert!(config.validate().is_err());
        let config = GatewayConfig {
            history: "kafka:h".into(),
            ..GatewayConfig::default()
        };
        assert_eq!(config.store_history_topic().as_deref(), Some("h"));
        let config = GatewayConfig {
            store_history_topic: Some("x".into()),
            ..config
        };
        assert_eq!(config.store_history_topic().as_deref(), Some("x"));
        assert_eq!(GatewayConfig::default().store_history_topic(), None);
    }

    #[test]
    fn nonsense_is_named() {
        let config = GatewayConfig {
            definition_rules: "loose".into(),
            ..GatewayConfig::default()
        };
        assert!(config.validate().unwrap_err().to_string().contains("loose"));
    }

    #[test]
    fn zero_timeouts_and_connection_limits_are_named() {
        for (name, config) in [
            (
                "header_read_timeout_seconds",
                GatewayConfig {
                    header_read_timeout_seconds: 0,
                    ..GatewayConfig::default()
                },
            ),
            (
                "idle_timeout_seconds",
                GatewayConfig {
                    idle_timeout_seconds: 0,
                    ..GatewayConfig::default()
                },
            ),
            (
                "body_read_timeout_seconds",
                GatewayConfig {
                    body_read_timeout_seconds: 0,
                    ..GatewayConfig::default()
                },
            ),
            (
                "max_connections",
                GatewayConfig {
                    max_connections: 0,
                    ..GatewayConfig::default()
                },
            ),
        ] {
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn a_zero_start_rate_is_named() {
        // Zero would read as "refuse every start"; a limit that never admits is a mistake.
        let config = GatewayConfig {
            start_rates_per_second: [("order".to_owned(), 0)].into(),
            ..GatewayConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("start_rates_per_second.order"), "{error}");
        let config = GatewayConfig {
            start_rate_per_second: Some(0),
            ..GatewayConfig::default()
        };
        assert!(config.validate().is_err());
        let config = GatewayConfig {
            start_rate_per_second: Some(5),
            start_rates_per_second: [("order".to_owned(), 50)].into(),
            task_token_key: Some(TaskTokenSecret::new("k".repeat(32))),
            ..GatewayConfig::default()
        };
        config.validate().expect("positive rates are fine");
    }
}

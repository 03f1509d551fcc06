//! The worker's configuration as plain data (Vector's `*Config` style): every field is
//! documented for the user, defaults live in named `default_*` functions, units are in the
//! names. The binary layers defaults → file → `QUICKSTEP_*` env → flags into this struct.

use runtime::kafka::KafkaSettings;
pub use runtime::kafka::KafkaValue;
use runtime::task_token::{TaskTokenKeys, TaskTokenSecret};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything `quickstep worker` needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// The consumer group every worker joins.
    #[serde(default = "default_group")]
    pub group: String,
    /// A directory of state machine definitions, one `NAME.asl.json` file each.
    #[serde(default)]
    pub definitions: Option<PathBuf>,
    /// The compacted topic of state machine revisions the gateway writes; followed live.
    #[serde(default = "default_registry_topic")]
    pub registry_topic: String,
    /// Topics that start executions, and how each finds its state machine and key.
    #[serde(default = "default_triggers")]
    pub triggers: Vec<TriggerConfig>,
    /// Where results go: one record per execution, keyed like its start record.
    #[serde(default = "default_results_topic")]
    pub results_topic: String,
    /// Where undecodable or unroutable start records are copied, if anywhere.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// `memory`, `off`, or `redis://host:port`.
    #[serde(default = "default_idempotency")]
    pub idempotency: String,
    /// How long a completed key suppresses duplicates, in seconds.
    #[serde(default = "default_idempotency_window_seconds")]
    pub idempotency_window_seconds: u64,
    /// `off`, `stdout`, `file:PATH` or `kafka:TOPIC`.
    #[serde(default = "default_history")]
    pub history: String,
    /// `ALL`, `ERROR`, `FATAL` or `OFF`.
    #[serde(default = "default_history_level")]
    pub history_level: String,
    /// How a `kafka:` history sink frames an execution's events: `events` (one record per
    /// event, AWS's log event shape) or `execution` (one record per execution holding all its
    /// events, `quickstep.v1.ExecutionHistory`).
    #[serde(default = "default_history_format")]
    pub history_format: String,
    /// Whether history events carry inputs and outputs.
    #[serde(default)]
    pub include_execution_data: bool,
    /// Executions running at once in this worker.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Bytes of fetched start records waiting for an execution slot; partitions pause when
    /// it is reached and resume at half.
    #[serde(default = "default_max_buffered_bytes")]
    pub max_buffered_bytes: usize,
    /// Partitions of topics the worker creates when they are missing.
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Executions started per second per state machine (token bucket); none when absent.
    /// Over the rate the worker waits (reading no further), it never refuses a record.
    #[serde(default)]
    pub start_rate_per_second: Option<u32>,
    /// Per state machine name: its own start rate, over `start_rate_per_second`.
    #[serde(default)]
    pub start_rates_per_second: std::collections::BTreeMap<String, u32>,
    /// On SIGTERM, how long in-flight executions may take to finish, in seconds.
    #[serde(default = "default_shutdown_grace_seconds")]
    pub shutdown_grace_seconds: u64,
    /// Where `/metrics` is served, `host:port`; none when absent.
    #[serde(default)]
    pub metrics_address: Option<String>,
    /// Region and account in the ARNs the worker makes up.
    #[serde(default = "default_region")]
    pub region: String,
    /// See `region`.
    #[serde(default = "default_account")]
    pub account: String,
    /// Extra librdkafka settings for every client (e.g. `session.timeout.ms`, or
    /// `session_timeout_ms` as environment variables must spell it).
    #[serde(default)]
    pub kafka: std::collections::BTreeMap<String, KafkaValue>,
    /// A named set of Kafka client settings: `low-latency` (the default: results wait at
    /// most 1 ms for a produce batch) or `throughput` (up to 5 ms, for less CPU per
    /// execution; see [`Profile`]); the `kafka` table's settings win over the profile's.
    #[serde(default)]
    pub profile: Profile,
    /// Task integrations: Lambda endpoint, HTTP connections, rate limits, callbacks.
    #[serde(default)]
    pub tasks: runtime::tasks::config::TasksConfig,
    /// The key task tokens are signed with (at least 32 bytes), the same for every worker
    /// and gateway of a deployment; required (env QUICKSTEP_TASK_TOKEN_KEY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token_key: Option<TaskTokenSecret>,
    /// The key before the current one, still accepted while a rotation reaches every
    /// process (env QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token_previous_key: Option<TaskTokenSecret>,
    /// `at-least-once` (offsets committed after results are acknowledged; a crash may repeat
    /// a result) or `exactly-once` (results, history, dead letters and Kafka-task writes
    /// commit in one Kafka transaction with the offsets that cover them).
    #[serde(default)]
    pub delivery: Delivery,
    /// Exactly-once: how long a transaction collects finished executions before it
    /// commits, in milliseconds (the latency a `read_committed` reader sees added).
    #[serde(default = "default_transaction_interval_ms")]
    pub transaction_interval_ms: u64,
    /// Exactly-once: a transaction commits early once this many records finished in it.
    #[serde(default = "default_transaction_max_records")]
    pub transaction_max_records: usize,
    /// Exactly-once: the broker aborts a transaction left open this long, in milliseconds;
    /// a record not acknowledged within it fails its transaction (`message.timeout.ms`).
    #[serde(default = "default_transaction_timeout_ms")]
    pub transaction_timeout_ms: u64,
    /// Exactly-once: this worker's `transactional.id`, stable across its restarts so a
    /// restart aborts what the previous run left open at once (e.g. the pod's name in a
    /// StatefulSet); distinct for every worker. Default: `GROUP-HOSTNAME-PID`, unique but not
    /// stable, so a crashed worker's open transaction holds `read_committed` readers back
    /// until `transaction_timeout_ms` passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional_id: Option<String>,
}

/// The delivery guarantee the worker gives its outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// Offsets commit once results are acknowledged; a crash between the two repeats a
    /// result under the same execution ARN.
    #[default]
    AtLeastOnce,
    /// Outputs and offsets commit in one Kafka transaction per batch.
    ExactlyOnce,
}

/// A named set of librdkafka settings for the worker's clients, applied under the user's
/// `kafka` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// The producer lingers 5 ms (librdkafka's and the runtime's defaults), so results
    /// share bigger produce batches: the least CPU per execution and the highest peak
    /// throughput, for a longer tail (README, Performance: latency in steady state).
    Throughput,
    /// The default: results wait at most 1 ms for a produce batch (`linger.ms`). The only
    /// setting that meets the steady-state latency goal (one worker, 20,000/s, p99 ≤ 10 ms)
    /// while history OFF keeps at least 80% of the passthrough; its cost is about a tenth
    /// of the peak throughput and a few percent more worker CPU per execution.
    #[default]
    LowLatency,
}

impl Profile {
    /// The profile's librdkafka settings: producer properties only, so they go to the
    /// worker's producers alone ([`WorkerConfig::kafka_settings`]); a consumer given one
    /// logs a `CONFWARN` at every start ([`WorkerConfig::consumer_kafka_settings`]).
    pub fn kafka(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Profile::Throughput => &[],
            Profile::LowLatency => LOW_LATENCY,
        }
    }
}

/// The `low-latency` profile's settings (README and DESIGN.md give their measured cost).
///
/// `fetch.wait.max.ms` is not among them: the broker answers a waiting fetch as soon as a
/// record is appended, so the wait bounds only idle partitions' round trips; nor is
/// `socket.nagle.disable`, already true in librdkafka 2.x.
const LOW_LATENCY: &[(&str, &str)] = &[("linger.ms", "1")];

/// One input topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// The topic.
    pub topic: String,
    /// The state machine every record of this topic starts; otherwise the
    /// `quickstep-state-machine` header (or `state_machine_path`) names it.
    #[serde(default)]
    pub state_machine: Option<String>,
    /// A JSONPath into the input that names the state machine.
    #[serde(default)]
    pub state_machine_path: Option<String>,
    /// A JSONPath into the input that gives the idempotency key; otherwise the
    /// `quickstep-idempotency-key` header, else the record key.
    #[serde(default)]
    pub idempotency_key_path: Option<String>,
}

fn default_brokers() -> String {
    "127.0.0.1:9092".into()
}
fn default_group() -> String {
    "quickstep".into()
}
fn default_registry_topic() -> String {
    "quickstep.state-machines".into()
}
fn default_triggers() -> Vec<TriggerConfig> {
    vec![TriggerConfig {
        topic: "quickstep.start".into(),
        state_machine: None,
        state_machine_path: None,
        idempotency_key_path: None,
    }]
}
fn default_results_topic() -> String {
    "quickstep.results".into()
}
fn default_idempotency() -> String {
    "memory".into()
}
fn default_idempotency_window_seconds() -> u64 {
    24 * 3600
}
fn default_history() -> String {
    "off".into()
}
fn default_history_level() -> String {
    "OFF".into()
}
fn default_history_format() -> String {
    "events".into()
}
fn default_max_in_flight() -> usize {
    1024
}
/// librdkafka prefetches up to 64 MiB by default; half of that in the worker's own backlog
/// covers a fetch round trip at tens of thousands of records per second.
fn default_max_buffered_bytes() -> usize {
    32 << 20
}
fn default_partitions() -> i32 {
    6
}
fn default_shutdown_grace_seconds() -> u64 {
    30
}
fn default_transaction_interval_ms() -> u64 {
    100
}
fn default_transaction_max_records() -> usize {
    5000
}
/// Long enough for a commit through a slow broker, short enough that a crashed worker's
/// open transaction (without a stable `transactional_id`) does not hold readers long.
fn default_transaction_timeout_ms() -> u64 {
    30_000
}
fn default_region() -> String {
    "local".into()
}
fn default_account() -> String {
    "000000000000".into()
}

impl Default for WorkerConfig {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

/// A configuration that cannot work, named.
#[derive(Debug, thiserror::Error)]
#[error("invalid worker configuration: {0}")]
pub struct ConfigError(pub String);

impl WorkerConfig {
    /// The settings of the worker's producers: the profile's producer properties under the
    /// user's `kafka` table (consumers take [`WorkerConfig::consumer_kafka_settings`]).
    pub fn producer_kafka_settings(&self) -> KafkaSettings {
        self.settings_with(self.profile.kafka())
    }

    /// The settings of the worker's consumers and its admin client: the user's `kafka`
    /// table without the profile's producer properties, which librdkafka would warn about
    /// in every consumer.
    pub fn consumer_kafka_settings(&self) -> KafkaSettings {
        self.settings_with(&[])
    }

    /// The user's `kafka` table over `beneath`.
    fn settings_with(&self, beneath: &[(&str, &str)]) -> KafkaSettings {
        let mut overrides: std::collections::BTreeMap<String, KafkaValue> = beneath
            .iter()
            .map(|(key, value)| ((*key).to_owned(), KafkaValue::Text((*value).to_owned())))
            .collect();
        // The user's settings win; their names may use `_` for `.` (environment variables).
        for (key, value) in &self.kafka {
            overrides.remove(&key.replace('_', "."));
            overrides.insert(key.clone(), value.clone());
        }
        KafkaSettings {
            brokers: self.brokers.clone(),
            client_group: self.group.clone(),
            registry_topic: self.registry_topic.clone(),
            partitions: self.partitions,
            overrides,
        }
    }

    /// Checks what serde cannot: values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_in_flight == 0 {
            return Err(ConfigError("max_in_flight must be at least 1".into()));
        }
        if self.max_buffered_bytes == 0 {
            return Err(ConfigError("max_buffered_bytes must be at least 1".into()));
        }
        runtime::start_rate::check(self.start_rate_per_second, &self.start_rates_per_second)
            .map_err(ConfigError)?;
        if self.triggers.is_empty() {
            return Err(ConfigError("at least one trigger topic is needed".into()));
        }
        if asl::history::Level::parse(&self.history_level).is_none() {
            return Err(ConfigError(format!(
                "history_level must be ALL, ERROR, FATAL or OFF, not '{}'",
                self.history_level
            )));
        }
        runtime::sinks::HistorySinkKind::parse(&self.history).map_err(ConfigError)?;
        runtime::sinks::HistoryFormat::parse(&self.history_format).map_err(ConfigError)?;
        IdempotencyKind::parse(&self.idempotency).map_err(ConfigError)?;
        self.task_token_keys()?;
        if self.transaction_interval_ms == 0 || self.transaction_max_records == 0 {
            return Err(ConfigError(
                "transaction_interval_ms and transaction_max_records must be at least 1".into(),
            ));
        }
        if self.transaction_timeout_ms < 1000
            || self.transaction_timeout_ms <= 2 * self.transaction_interval_ms
        {
            return Err(ConfigError(format!(
                "transaction_timeout_ms ({}) must be at least 1000 and well over transaction_interval_ms ({})",
                self.transaction_timeout_ms, self.transaction_interval_ms
            )));
        }
        if self.transactional_id.as_deref() == Some("") {
            return Err(ConfigError("transactional_id must not be empty".into()));
        }
        Ok(())
    }

    /// The `transactional.id` of this worker's producer in exactly-once mode.
    pub fn transactional_id(&self) -> String {
        self.transactional_id.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME")
                .ok()
                .filter(|h| !h.is_empty())
                .or_else(|| {
                    std::fs::read_to_string("/etc/hostname")
                        .ok()
                        .map(|h| h.trim().to_owned())
                })
                .unwrap_or_else(|| "host".into());
            format!("{}-{host}-{}", self.group, std::process::id())
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
}

/// Which idempotency store the configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyKind {
    /// No deduplication.
    Off,
    /// In this process only (one worker).
    Memory,
    /// Redis at this URL (many workers): one server, or a Redis Cluster's seed nodes
    /// (`redis-cluster://host:port[,host:port…]`).
    Redis(String),
}

impl IdempotencyKind {
    /// Parses `off`, `memory`, `redis://…` or `redis-cluster://…`.
    pub fn parse(text: &str) -> Result<IdempotencyKind, String> {
        match text {
            "off" => Ok(IdempotencyKind::Off),
            "memory" => Ok(IdempotencyKind::Memory),
            url if ["redis://", "rediss://", crate::idempotency::CLUSTER_SCHEME]
                .iter()
                .any(|scheme| url.starts_with(scheme)) =>
            {
                Ok(IdempotencyKind::Redis(url.into()))
            }
            other => Err(format!(
                "idempotency must be off, memory, redis://HOST:PORT or redis-cluster://HOST:PORT[,HOST:PORT…], not '{other}'"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_names_a_store() {
        assert_eq!(IdempotencyKind::parse("off"), Ok(IdempotencyKind::Off));
        assert_eq!(
            IdempotencyKind::parse("memory"),
            Ok(IdempotencyKind::Memory)
        );
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://cache.example:6380/2",
            "redis-cluster://10.0.0.1:7000,10.0.0.2:7000",
        ] {
            assert_eq!(
                IdempotencyKind::parse(url),
                Ok(IdempotencyKind::Redis(url.into()))
            );
        }
        let error = IdempotencyKind::parse("memcached://x").expect_err("not a store");
        assert!(error.contains("redis-cluster://HOST:PORT"), "{error}");
    }

    #[test]
    fn the_low_latency_profile_sets_kafka_settings_under_the_users() {
        assert_eq!(WorkerConfig::default().profile, Profile::LowLatency);
        let defaults = WorkerConfig::default().producer_kafka_settings().overrides;
        assert_eq!(
            defaults
                .get("linger.ms")
                .map(ToString::to_string)
                .as_deref(),
            Some("1"),
            "low latency by default"
        );
        let throughput: WorkerConfig =
            serde_json::from_value(serde_json::json!({"profile": "throughput"})).expect("parses");
        assert_eq!(throughput.profile, Profile::Throughput);
        assert!(
            throughput.producer_kafka_settings().overrides.is_empty(),
            "the runtime's defaults (linger.ms 5)"
        );
        let config: WorkerConfig = serde_json::from_value(serde_json::json!({
            "profile": "low-latency",
            "kafka": {"linger_ms": 2, "session.timeout.ms": "6000"},
        }))
        .expect("parses");
        assert_eq!(config.profile, Profile::LowLatency);
        let overrides = config.producer_kafka_settings().overrides;
        let text: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        assert_eq!(
            text,
            [
                ("linger_ms".to_owned(), "2".to_owned()),
                ("session.timeout.ms".to_owned(), "6000".to_owned()),
            ],
            "the user's linger replaces the profile's, whichever spelling"
        );
        let consumers = config.consumer_kafka_settings().overrides;
        assert_eq!(
            consumers.keys().collect::<Vec<_>>(),
            ["linger_ms", "session.timeout.ms"],
            "consumers get the user's settings"
        );
        assert!(
            !WorkerConfig::default()
                .consumer_kafka_settings()
                .overrides
                .contains_key("linger.ms"),
            "the default profile's producer setting stays out of the consumers"
        );
        let error = serde_json::from_value::<WorkerConfig>(serde_json::json!({"profile": "fast"}))
            .expect_err("unknown profile");
        assert!(error.to_string().contains("low-latency"), "{error}");
    }

    #[test]
    fn defaults_with_a_task_token_key_are_valid() {
        let config = WorkerConfig::default();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("QUICKSTEP_TASK_TOKEN_KEY"), "{error}");
        let config = WorkerConfig {
            task_token_key: Some(TaskTokenSecret::new("k".repeat(32))),
            ..WorkerConfig::default()
        };
        config.validate().expect("the defaults work");
        assert_eq!(config.triggers[0].topic, "quickstep.start");
        let config = WorkerConfig {
            task_token_previous_key: Some(TaskTokenSecret::new("short")),
            ..config
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("task_token_previous_key"), "{error}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let error = serde_json::from_value::<WorkerConfig>(serde_json::json!({"bokers": "x"}));
        assert!(error.is_err());
    }

    #[test]
    fn nonsense_values_are_named() {
        let config = WorkerConfig {
            history_level: "LOUD".into(),
            task_token_key: Some(TaskTokenSecret::new("k".repeat(32))),
            ..WorkerConfig::default()
        };
        assert!(config.validate().unwrap_err().to_string().contains("LOUD"));
        let config = WorkerConfig {
            max_in_flight: 0,
            ..WorkerConfig::default()
        };
        assert!(config.validate().is_err());
        let config = WorkerConfig {
            max_buffered_bytes: 0,
            ..WorkerConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("max_buffered_bytes"), "{error}");
        let config = WorkerConfig {
            start_rates_per_second: [("order".to_owned(), 0)].into(),
            ..WorkerConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("start_rates_per_second.order"), "{error}");
    }

    #[test]
    fn delivery_parses_its_two_spellings_and_transactions_are_checked() {
        let config: WorkerConfig =
            serde_json::from_value(serde_json::json!({"delivery": "exactly-once"}))
                .expect("parses");
        assert_eq!(config.delivery, Delivery::ExactlyOnce);
        assert_eq!(WorkerConfig::default().delivery, Delivery::AtLeastOnce);
        assert!(
            serde_json::from_value::<WorkerConfig>(serde_json::json!({"delivery": "exactly"}))
                .is_err()
        );
        let valid = WorkerConfig {
            task_token_key: Some(TaskTokenSecret::new("k".repeat(32))),
            ..config
        };
        valid.validate().expect("the defaults work");
        let error = WorkerConfig {
            transaction_timeout_ms: 150,
            ..valid.clone()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(error.contains("transaction_timeout_ms"), "{error}");
        let error = WorkerConfig {
            transaction_interval_ms: 0,
            ..valid.clone()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(error.contains("transaction_interval_ms"), "{error}");
        let named = WorkerConfig {
            transactional_id: Some("worker-0".into()),
            ..valid.clone()
        };
        assert_eq!(named.transactional_id(), "worker-0");
        assert!(valid
            .transactional_id()
            .ends_with(&format!("-{}", std::process::id())));
    }
}

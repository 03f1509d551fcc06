//! The gateway's configuration as plain data (the worker's `*Config` style): every field is
//! documented for the user, defaults live in named `default_*` functions, units are in the
//! names. The binary layers defaults → file → `QUICKSTEP_GATEWAY_*` env → flags into it.

use runtime::kafka::{KafkaSettings, KafkaValue};
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
        Ok(())
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
    fn defaults_are_valid_and_loopback() {
        let config = GatewayConfig::default();
        config.validate().expect("the defaults work");
        assert_eq!(config.address, "127.0.0.1:8080");
        assert!(!config.authenticates());
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
            ..GatewayConfig::default()
        };
        config.validate().expect("positive rates are fine");
    }
}

//! Layers the worker's configuration once at startup: defaults → `--config` file (TOML) →
//! `QUICKSTEP_*` environment (`__` nests) → flags. Nothing reads the environment later.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::Serialize;
use std::path::PathBuf;
use worker::config::{TriggerConfig, WorkerConfig};

/// The flags of `quickstep worker`; each overrides the file and the environment.
#[derive(clap::Args, Debug, Default, Serialize)]
pub struct WorkerFlags {
    /// A TOML file with any of the settings below (and `triggers`, `kafka`).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers [env: QUICKSTEP_BROKERS] [default: 127.0.0.1:9092].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brokers: Option<String>,
    /// Consumer group [env: QUICKSTEP_GROUP] [default: quickstep].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Directory of NAME.asl.json definitions [env: QUICKSTEP_DEFINITIONS].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definitions: Option<PathBuf>,
    /// The input topic, routed by the quickstep-state-machine header; replaces the
    /// configured triggers [default: quickstep.start].
    #[arg(long)]
    #[serde(skip)]
    pub input_topic: Option<String>,
    /// Results topic [env: QUICKSTEP_RESULTS_TOPIC] [default: quickstep.results].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results_topic: Option<String>,
    /// Dead-letter topic for undecodable or unroutable records [env: QUICKSTEP_DEAD_LETTER_TOPIC].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,
    /// redis://HOST:PORT, redis-cluster://HOST:PORT[,HOST:PORT…], memory or off
    /// [env: QUICKSTEP_IDEMPOTENCY] [default: memory].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<String>,
    /// How long a completed key suppresses duplicates, in seconds [default: 86400].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_window_seconds: Option<u64>,
    /// off, stdout, file:PATH or kafka:TOPIC [env: QUICKSTEP_HISTORY] [default: off].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
    /// ALL, ERROR, FATAL or OFF [env: QUICKSTEP_HISTORY_LEVEL] [default: OFF].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_level: Option<String>,
    /// How kafka: history is framed: events (one record per event) or execution (one record
    /// per execution) [env: QUICKSTEP_HISTORY_FORMAT] [default: events].
    #[arg(long, value_parser = ["events", "execution"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_format: Option<String>,
    /// History events carry inputs and outputs [env: QUICKSTEP_INCLUDE_EXECUTION_DATA].
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_execution_data: bool,
    /// Executions running at once [env: QUICKSTEP_MAX_IN_FLIGHT] [default: 1024].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// Bytes of fetched start records waiting for a slot before partitions pause
    /// [env: QUICKSTEP_MAX_BUFFERED_BYTES] [default: 33554432].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_buffered_bytes: Option<usize>,
    /// Partitions of topics the worker creates [env: QUICKSTEP_PARTITIONS] [default: 6].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions: Option<i32>,
    /// Executions started per second per state machine [env: QUICKSTEP_START_RATE_PER_SECOND].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_rate_per_second: Option<u32>,
    /// A state machine's own start rate, NAME:RATE per second; repeatable
    /// [env: QUICKSTEP_START_RATES_PER_SECOND=NAME:RATE,…].
    #[arg(long = "start-rate", value_name = "NAME:RATE")]
    #[serde(skip)]
    pub start_rates: Vec<String>,
    /// Seconds in-flight executions get to finish on SIGTERM [default: 30].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_seconds: Option<u64>,
    /// Serve /metrics on HOST:PORT [env: QUICKSTEP_METRICS_ADDRESS].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_address: Option<String>,
    /// at-least-once or exactly-once (outputs and offsets in one Kafka transaction)
    /// [env: QUICKSTEP_DELIVERY] [default: at-least-once].
    #[arg(long, value_parser = ["at-least-once", "exactly-once"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// Exactly-once: milliseconds a transaction collects results before committing
    /// [env: QUICKSTEP_TRANSACTION_INTERVAL_MS] [default: 100].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_interval_ms: Option<u64>,
    /// Exactly-once: this worker's transactional.id, stable across its restarts and distinct
    /// per worker [env: QUICKSTEP_TRANSACTIONAL_ID] [default: GROUP-HOSTNAME-PID].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactional_id: Option<String>,
    /// Kafka client settings by name: low-latency (results wait at most 1 ms for a produce
    /// batch) or throughput (5 ms batches: less CPU per execution, a longer tail); the
    /// `kafka` table wins over it [env: QUICKSTEP_PROFILE] [default: low-latency].
    #[arg(long, value_parser = ["throughput", "low-latency"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// The top-level settings the environment may set; other `QUICKSTEP_*` variables belong to
/// other tools (tests, the Lambda endpoint) and are not the worker's.
const ENV_KEYS: &[&str] = &[
    "brokers",
    "group",
    "definitions",
    "registry_topic",
    "results_topic",
    "dead_letter_topic",
    "idempotency",
    "idempotency_window_seconds",
    "history",
    "history_level",
    "history_format",
    "include_execution_data",
    "max_in_flight",
    "max_buffered_bytes",
    "partitions",
    "start_rate_per_second",
    "shutdown_grace_seconds",
    "metrics_address",
    "delivery",
    "transaction_interval_ms",
    "transaction_max_records",
    "transaction_timeout_ms",
    "transactional_id",
    "region",
    "account",
    "kafka",
    "profile",
    "tasks",
    // QUICKSTEP_TASK_TOKEN_KEY, QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY.
    "task_token_key",
    "task_token_previous_key",
];

/// Layers the sources into one checked configuration. Per-machine start rates come from
/// the file's `[start_rates_per_second]`, then QUICKSTEP_START_RATES_PER_SECOND and
/// `--start-rate` (never from `QUICKSTEP_…__NAME`: the environment layer lowercases keys,
/// which would name another state machine).
pub fn load(flags: &WorkerFlags) -> Result<WorkerConfig, Box<figment::Error>> {
    let rates = std::env::var("QUICKSTEP_START_RATES_PER_SECOND").ok();
    load_with(flags, rates.as_deref())
}

fn load_with(
    flags: &WorkerFlags,
    env_rates: Option<&str>,
) -> Result<WorkerConfig, Box<figment::Error>> {
    let mut figment = Figment::from(Serialized::defaults(WorkerConfig::default()));
    if let Some(file) = &flags.config {
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = figment
        .merge(Env::prefixed("QUICKSTEP_").split("__").filter(|key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            ENV_KEYS.iter().any(|known| known.eq_ignore_ascii_case(top))
        }))
        .merge(Serialized::defaults(flags));
    let mut config: WorkerConfig = figment.extract().map_err(Box::new)?;
    for text in
        crate::config::gateway::items(env_rates).chain(flags.start_rates.iter().map(String::as_str))
    {
        let (name, rate) =
            runtime::start_rate::parse(text).map_err(|e| Box::new(figment::Error::from(e)))?;
        config.start_rates_per_second.insert(name, rate);
    }
    // QUICKSTEP_LAMBDA_ENDPOINT, when the layers above set no endpoint.
    config.tasks.read_env();
    if let Some(topic) = &flags.input_topic {
        config.triggers = vec![TriggerConfig {
            topic: topic.clone(),
            state_machine: None,
            state_machine_path: None,
            idempotency_key_path: None,
        }];
    }
    Ok(config)
}

#[cfg(test)]
// figment's Jail closures return its (large) error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn start_rates_layer_and_keep_the_case_of_names() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "worker.toml",
                "start_rate_per_second = 10\n[start_rates_per_second]\nOrder = 1\nbilling = 2\n",
            )?;
            jail.set_env("QUICKSTEP_START_RATES_PER_SECOND__ORDER", "99");
            let flags = WorkerFlags {
                config: Some("worker.toml".into()),
                start_rates: vec!["shipping:30".into()],
                ..WorkerFlags::default()
            };
            let config = load_with(&flags, Some("billing:20, Extra:4")).expect("layers");
            assert_eq!(config.start_rate_per_second, Some(10));
            let rates: Vec<(&str, u32)> = config
                .start_rates_per_second
                .iter()
                .map(|(n, r)| (n.as_str(), *r))
                .collect();
            assert_eq!(
                rates,
                [
                    ("Extra", 4),
                    ("Order", 1),
                    ("billing", 20),
                    ("shipping", 30)
                ]
            );
            let bad = WorkerFlags {
                start_rates: vec!["shipping".into()],
                ..WorkerFlags::default()
            };
            let error = load_with(&bad, None).unwrap_err().to_string();
            assert!(error.contains("NAME:RATE"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn flags_override_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "worker.toml",
                "brokers = \"file:9092\"\ngroup = \"from-file\"\nmax_in_flight = 7\n",
            )?;
            jail.set_env("QUICKSTEP_GROUP", "from-env");
            jail.set_env("QUICKSTEP_SHARED", "/not/a/worker/setting");
            let flags = WorkerFlags {
                config: Some("worker.toml".into()),
                brokers: Some("flag:9092".into()),
                ..WorkerFlags::default()
            };
            let config = load(&flags).expect("layers");
            assert_eq!(config.brokers, "flag:9092");
            assert_eq!(config.group, "from-env");
            assert_eq!(config.max_in_flight, 7);
            assert_eq!(config.results_topic, "quickstep.results", "default kept");
            Ok(())
        });
    }

    #[test]
    fn nested_env_and_input_topic() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("QUICKSTEP_KAFKA__SESSION_TIMEOUT_MS", "6000");
            jail.set_env(
                "QUICKSTEP_TASK_TOKEN_KEY",
                "a-task-token-key-of-at-least-32-bytes",
            );
            let flags = WorkerFlags {
                input_topic: Some("orders".into()),
                ..WorkerFlags::default()
            };
            let config = load(&flags).expect("layers");
            assert_eq!(config.triggers.len(), 1);
            assert_eq!(config.triggers[0].topic, "orders");
            config
                .validate()
                .expect("the key came from the environment");
            assert_eq!(
                config.task_token_key,
                Some(runtime::task_token::TaskTokenSecret::new(
                    "a-task-token-key-of-at-least-32-bytes"
                ))
            );
            assert_eq!(
                config
                    .kafka
                    .get("session_timeout_ms")
                    .map(ToString::to_string)
                    .as_deref(),
                Some("6000")
            );
            Ok(())
        });
    }

    #[test]
    fn the_profile_layers_from_file_env_and_flag() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(
                load(&WorkerFlags::default()).expect("defaults").profile,
                worker::config::Profile::LowLatency
            );
            jail.create_file("worker.toml", "profile = \"throughput\"\n")?;
            let file = WorkerFlags {
                config: Some("worker.toml".into()),
                ..WorkerFlags::default()
            };
            assert_eq!(
                load(&file).expect("layers").profile,
                worker::config::Profile::Throughput
            );
            jail.set_env("QUICKSTEP_PROFILE", "low-latency");
            assert_eq!(
                load(&file).expect("layers").profile,
                worker::config::Profile::LowLatency
            );
            let flag = WorkerFlags {
                profile: Some("throughput".into()),
                ..file
            };
            let config = load(&flag).expect("layers");
            assert_eq!(config.profile, worker::config::Profile::Throughput);
            assert!(!config
                .producer_kafka_settings()
                .overrides
                .contains_key("linger.ms"));
            jail.set_env("QUICKSTEP_PROFILE", "fastest");
            assert!(load(&WorkerFlags::default()).is_err(), "not a profile");
            Ok(())
        });
    }

    #[test]
    fn delivery_layers_from_file_env_and_flag() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "worker.toml",
                "delivery = \"exactly-once\"\ntransaction_interval_ms = 50\n",
            )?;
            let from_file = WorkerFlags {
                config: Some("worker.toml".into()),
                ..WorkerFlags::default()
            };
            let config = load(&from_file).expect("layers");
            assert_eq!(config.delivery, worker::config::Delivery::ExactlyOnce);
            assert_eq!(config.transaction_interval_ms, 50);
            jail.set_env("QUICKSTEP_DELIVERY", "at-least-once");
            jail.set_env("QUICKSTEP_TRANSACTIONAL_ID", "worker-7");
            let config = load(&from_file).expect("layers");
            assert_eq!(config.delivery, worker::config::Delivery::AtLeastOnce);
            assert_eq!(config.transactional_id.as_deref(), Some("worker-7"));
            let flag = WorkerFlags {
                delivery: Some("exactly-once".into()),
                ..from_file
            };
            let config = load(&flag).expect("layers");
            assert_eq!(config.delivery, worker::config::Delivery::ExactlyOnce);
            jail.set_env("QUICKSTEP_DELIVERY", "twice");
            assert!(
                load(&WorkerFlags::default()).is_err(),
                "a bad value is refused"
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_file_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("worker.toml", "max_in_flight = \"lots\"\n")?;
            let flags = WorkerFlags {
                config: Some("worker.toml".into()),
                ..WorkerFlags::default()
            };
            assert!(load(&flags).is_err());
            Ok(())
        });
    }
}

//! Layers the gateway's configuration once at startup: defaults → `--config` file (TOML) →
//! `QUICKSTEP_GATEWAY_*` environment (`__` nests; the integrations' `QUICKSTEP_TASKS__*`) → flags. Access keys come from the file's
//! `[access_keys]` table, `QUICKSTEP_GATEWAY_ACCESS_KEYS=ID:SECRET[,ID:SECRET…]` (kept out of
//! the generic layer, which lowercases names) and `--access-key ID:SECRET`; per-state-machine
//! start rates likewise from `[start_rates_per_second]`,
//! `QUICKSTEP_GATEWAY_START_RATES_PER_SECOND=NAME:RATE[,NAME:RATE…]` and `--start-rate
//! NAME:RATE` (state machine names are case-sensitive and never contain `:` or `,`).

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use gateway::config::GatewayConfig;
use serde::Serialize;
use std::path::PathBuf;

/// The flags of `quickstep gateway`; each overrides the file and the environment.
#[derive(clap::Args, Debug, Default, Serialize)]
pub struct GatewayFlags {
    /// A TOML file with any of the settings below (and `access_keys`, `kafka`).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Listen on HOST:PORT [env: QUICKSTEP_GATEWAY_ADDRESS] [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Kafka bootstrap servers [env: QUICKSTEP_GATEWAY_BROKERS] [default: 127.0.0.1:9092].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brokers: Option<String>,
    /// Topic StartExecution produces to [env: QUICKSTEP_GATEWAY_START_TOPIC] [default: quickstep.start].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_topic: Option<String>,
    /// The execution store behind ListExecutions, DescribeExecution, GetExecutionHistory and
    /// the console: off, memory or file:PATH [env: QUICKSTEP_GATEWAY_STORE] [default: off].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// SigV4 access key, ID:SECRET (repeatable); none = no authentication
    /// [env: QUICKSTEP_GATEWAY_ACCESS_KEYS=ID:SECRET,…].
    #[arg(long = "access-key", value_name = "ID:SECRET")]
    #[serde(skip)]
    pub access_keys: Vec<String>,
    /// Serve a non-loopback address without authentication anyway
    /// [env: QUICKSTEP_GATEWAY_ALLOW_UNAUTHENTICATED].
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_unauthenticated: bool,
    /// Largest request body in bytes [env: QUICKSTEP_GATEWAY_MAX_REQUEST_BYTES] [default: 2097152].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<usize>,
    /// Seconds to send a request's headers before the connection is closed
    /// [env: QUICKSTEP_GATEWAY_HEADER_READ_TIMEOUT_SECONDS] [default: 30].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_read_timeout_seconds: Option<u64>,
    /// Seconds an idle keep-alive connection stays open
    /// [env: QUICKSTEP_GATEWAY_IDLE_TIMEOUT_SECONDS] [default: 60].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<u64>,
    /// Seconds to send a request's body before RequestTimeoutException
    /// [env: QUICKSTEP_GATEWAY_BODY_READ_TIMEOUT_SECONDS] [default: 30].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_read_timeout_seconds: Option<u64>,
    /// Connections served at once; more wait to be accepted
    /// [env: QUICKSTEP_GATEWAY_MAX_CONNECTIONS] [default: 512].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Sync executions at once before ThrottlingException
    /// [env: QUICKSTEP_GATEWAY_MAX_SYNC_IN_FLIGHT] [default: 1024].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sync_in_flight: Option<usize>,
    /// Starts (StartExecution + StartSyncExecution) per second per state machine before
    /// ThrottlingException [env: QUICKSTEP_GATEWAY_START_RATE_PER_SECOND] [default: no limit].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_rate_per_second: Option<u32>,
    /// One state machine's start rate per second, NAME:RATE (repeatable), instead of
    /// --start-rate-per-second [env: QUICKSTEP_GATEWAY_START_RATES_PER_SECOND=NAME:RATE,…].
    #[arg(long = "start-rate", value_name = "NAME:RATE")]
    #[serde(skip)]
    pub start_rates: Vec<String>,
    /// express (AWS's rules) or standard (also .waitForTaskToken, .sync)
    /// [env: QUICKSTEP_GATEWAY_DEFINITION_RULES] [default: express].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition_rules: Option<String>,
    /// History of sync executions: off, stdout, file:PATH or kafka:TOPIC [default: off].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
    /// ALL, ERROR, FATAL or OFF [default: OFF].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_level: Option<String>,
    /// Region in ARNs [env: QUICKSTEP_GATEWAY_REGION] [default: local].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Account in ARNs [env: QUICKSTEP_GATEWAY_ACCOUNT] [default: 000000000000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// Parses `ID:SECRET`.
fn access_key(text: &str) -> Result<(String, String), String> {
    match text.trim().split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_owned(), secret.to_owned()))
        }
        _ => Err(format!("an access key is ID:SECRET, not '{text}'")),
    }
}

/// The variables the generic layer must not read, each with its own parser.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListEnv<'a> {
    /// `QUICKSTEP_GATEWAY_ACCESS_KEYS`.
    pub access_keys: Option<&'a str>,
    /// `QUICKSTEP_GATEWAY_START_RATES_PER_SECOND`.
    pub start_rates: Option<&'a str>,
}

/// The comma-separated items of a list variable.
pub fn items(value: Option<&str>) -> impl Iterator<Item = &str> {
    value
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter(|t| !t.trim().is_empty())
}

/// Layers the sources into one configuration; `env` holds the list variables' values.
pub fn load_with(flags: &GatewayFlags, env: ListEnv<'_>) -> Result<GatewayConfig, String> {
    let mut figment = Figment::from(Serialized::defaults(GatewayConfig::default()));
    if let Some(file) = &flags.config {
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = figment
        .merge(
            Env::prefixed("QUICKSTEP_GATEWAY_")
                .split("__")
                .ignore(&["access_keys"])
                // A lowercased key would name another state machine, so these rates come
                // only from their own variable (below), never nested (`…__NAME`, split
                // into `start_rates_per_second.name` by now).
                .filter(|key| {
                    // Not lowercased yet at this point.
                    let key = key.as_str().to_ascii_lowercase();
                    key != "start_rates_per_second" && !key.starts_with("start_rates_per_second.")
                }),
        )
        // Task integrations: the same `[tasks]` section and QUICKSTEP_TASKS__* variables
        // as every other command (config::tasks).
        .merge(crate::config::tasks::env_layer())
        // The task token keys are the deployment's, one variable each for worker and
        // gateway alike: QUICKSTEP_TASK_TOKEN_KEY, QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY.
        .merge(Env::prefixed("QUICKSTEP_").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            key == "task_token_key" || key == "task_token_previous_key"
        }))
        .merge(Serialized::defaults(flags));
    let mut config: GatewayConfig = figment.extract().map_err(|e| e.to_string())?;
    // QUICKSTEP_LAMBDA_ENDPOINT, when the layers above set no endpoint.
    config.tasks.read_env();
    for text in items(env.access_keys).chain(flags.access_keys.iter().map(String::as_str)) {
        let (id, secret) = access_key(text)?;
        config.access_keys.insert(id, secret);
    }
    for text in items(env.start_rates).chain(flags.start_rates.iter().map(String::as_str)) {
        let (name, rate) = runtime::start_rate::parse(text)?;
        config.start_rates_per_second.insert(name, rate);
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// Layers the sources, reading the environment once.
pub fn load(flags: &GatewayFlags) -> Result<GatewayConfig, String> {
    let keys = std::env::var("QUICKSTEP_GATEWAY_ACCESS_KEYS").ok();
    let rates = std::env::var("QUICKSTEP_GATEWAY_START_RATES_PER_SECOND").ok();
    load_with(
        flags,
        ListEnv {
            access_keys: keys.as_deref(),
            start_rates: rates.as_deref(),
        },
    )
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_access_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "gateway.toml",
                "brokers = \"file:9092\"\nregion = \"eu-west-1\"\n[access_keys]\nAKIDFILE = \"s0\"\n",
            )?;
            jail.set_env("QUICKSTEP_GATEWAY_REGION", "us-east-1");
            jail.set_env("QUICKSTEP_TASK_TOKEN_KEY", TEST_KEY);
            jail.set_env("QUICKSTEP_GATEWAY_MAX_SYNC_IN_FLIGHT", "7");
            let flags = GatewayFlags {
                config: Some("gateway.toml".into()),
                address: Some("0.0.0.0:9000".into()),
                access_keys: vec!["AKIDFLAG:s2".into()],
                ..GatewayFlags::default()
            };
            let config = load_with(
                &flags,
                ListEnv {
                    access_keys: Some("AKIDENV:s1"),
                    start_rates: None,
                },
            )
            .expect("layers");
            assert_eq!(config.address, "0.0.0.0:9000");
            assert_eq!(config.brokers, "file:9092");
            assert_eq!(config.region, "us-east-1");
            assert_eq!(config.max_sync_in_flight, 7);
            assert_eq!(config.access_keys.len(), 3);
            assert_eq!(config.access_keys["AKIDENV"], "s1");
            assert_eq!(config.access_keys["AKIDFILE"], "s0");
            Ok(())
        });
    }

    #[test]
    fn the_store_layers_from_file_env_and_flag() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("QUICKSTEP_TASK_TOKEN_KEY", TEST_KEY);
            jail.create_file(
                "gateway.toml",
                "store = \"file:/tmp/a.db\"\nstore_retention_hours = 2\n",
            )?;
            let flags = GatewayFlags {
                config: Some("gateway.toml".into()),
                ..GatewayFlags::default()
            };
            let config = load_with(
                &flags,
                ListEnv {
                    access_keys: None,
                    start_rates: None,
                },
            )
            .expect("layers");
            assert_eq!(
                (config.store.as_str(), config.store_retention_hours),
                ("file:/tmp/a.db", 2)
            );
            jail.set_env("QUICKSTEP_GATEWAY_STORE_MAX_BYTES", "2097152");
            let flags = GatewayFlags {
                store: Some("memory".into()),
                ..flags
            };
            let config = load_with(
                &flags,
                ListEnv {
                    access_keys: None,
                    start_rates: None,
                },
            )
            .expect("layers");
            assert_eq!(
                (config.store.as_str(), config.store_max_bytes),
                ("memory", 2_097_152)
            );
            let flags = GatewayFlags {
                store: Some("sqlite".into()),
                ..GatewayFlags::default()
            };
            assert!(load_with(
                &flags,
                ListEnv {
                    access_keys: None,
                    start_rates: None
                }
            )
            .is_err());
            Ok(())
        });
    }

    #[test]
    fn connection_limits_layer_and_zero_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("QUICKSTEP_TASK_TOKEN_KEY", TEST_KEY);
            jail.create_file(
                "gateway.toml",
                "header_read_timeout_seconds = 5\nmax_connections = 64\n",
            )?;
            jail.set_env("QUICKSTEP_GATEWAY_IDLE_TIMEOUT_SECONDS", "9");
            jail.set_env("QUICKSTEP_GATEWAY_MAX_CONNECTIONS", "32");
            let flags = GatewayFlags {
                config: Some("gateway.toml".into()),
                body_read_timeout_seconds: Some(3),
                ..GatewayFlags::default()
            };
            let config = load_with(&flags, ListEnv::default()).expect("layers");
            assert_eq!(config.header_read_timeout_seconds, 5);
            assert_eq!(config.idle_timeout_seconds, 9);
            assert_eq!(config.body_read_timeout_seconds, 3);
            assert_eq!(config.max_connections, 32);
            let zero = GatewayFlags {
                max_connections: Some(0),
                ..GatewayFlags::default()
            };
            let error = load_with(&zero, ListEnv::default()).unwrap_err();
            assert!(error.contains("max_connections"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn start_rates_layer_and_keep_the_case_of_names() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "gateway.toml",
                "start_rate_per_second = 10\n[start_rates_per_second]\nOrder = 1\nbilling = 2\nshipping = 3\n",
            )?;
            jail.set_env("QUICKSTEP_GATEWAY_START_RATE_PER_SECOND", "20");
            jail.set_env("QUICKSTEP_TASK_TOKEN_KEY", TEST_KEY);
            // The nested form would arrive lowercased ("order"): it is not read at all.
            jail.set_env("QUICKSTEP_GATEWAY_START_RATES_PER_SECOND__ORDER", "99");
            let flags = GatewayFlags {
                config: Some("gateway.toml".into()),
                start_rates: vec!["shipping:30".into()],
                ..GatewayFlags::default()
            };
            let env = ListEnv {
                access_keys: None,
                start_rates: Some("billing:20, Refunds:4"),
            };
            let config = load_with(&flags, env).expect("layers");
            assert_eq!(config.start_rate_per_second, Some(20), "env over file");
            let rates: Vec<(&str, u32)> = config
                .start_rates_per_second
                .iter()
                .map(|(name, rate)| (name.as_str(), *rate))
                .collect();
            assert_eq!(
                rates,
                [
                    ("Order", 1),
                    ("Refunds", 4),
                    ("billing", 20),
                    ("shipping", 30)
                ],
                "file, then its variable, then flags; names as written"
            );
            let flags = GatewayFlags {
                start_rate_per_second: Some(5),
                ..GatewayFlags::default()
            };
            assert_eq!(
                load_with(&flags, ListEnv::default())
                    .expect("layers")
                    .start_rate_per_second,
                Some(5),
                "the flag over the environment"
            );
            Ok(())
        });
        assert_eq!(runtime::start_rate::parse("a:7"), Ok(("a".into(), 7)));
        for bad in ["a", "a:", ":7", "a:-1", "a:x"] {
            assert!(runtime::start_rate::parse(bad).is_err(), "{bad}");
        }
        let flags = GatewayFlags {
            start_rates: vec!["order:0".into()],
            ..GatewayFlags::default()
        };
        assert!(
            load_with(&flags, ListEnv::default()).is_err(),
            "zero is refused"
        );
    }

    const TEST_KEY: &str = "a-task-token-key-of-at-least-32-bytes";

    #[test]
    fn the_task_token_keys_come_from_the_file_or_the_shared_variables() {
        figment::Jail::expect_with(|jail| {
            let error = load_with(&GatewayFlags::default(), ListEnv::default()).unwrap_err();
            assert!(error.contains("QUICKSTEP_TASK_TOKEN_KEY"), "{error}");
            jail.create_file(
                "gateway.toml",
                &format!("task_token_key = \"{TEST_KEY}-from-file\"\n"),
            )?;
            let flags = GatewayFlags {
                config: Some("gateway.toml".into()),
                ..GatewayFlags::default()
            };
            let config = load_with(&flags, ListEnv::default()).expect("key from the file");
            let file_key =
                runtime::task_token::TaskTokenSecret::new(format!("{TEST_KEY}-from-file"));
            assert_eq!(config.task_token_key.as_ref(), Some(&file_key));
            jail.set_env("QUICKSTEP_TASK_TOKEN_KEY", TEST_KEY);
            jail.set_env("QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY", "short");
            let error = load_with(&flags, ListEnv::default()).unwrap_err();
            assert!(error.contains("task_token_previous_key"), "{error}");
            jail.set_env(
                "QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY",
                format!("{TEST_KEY}-old"),
            );
            let config = load_with(&flags, ListEnv::default()).expect("keys from the env");
            assert_eq!(
                config.task_token_key,
                Some(runtime::task_token::TaskTokenSecret::new(TEST_KEY)),
                "the variable over the file"
            );
            assert!(config.task_token_previous_key.is_some());
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_errors() {
        let flags = GatewayFlags {
            access_keys: vec!["nocolon".into()],
            ..GatewayFlags::default()
        };
        assert!(load_with(&flags, ListEnv::default()).is_err());
        let flags = GatewayFlags {
            definition_rules: Some("loose".into()),
            ..GatewayFlags::default()
        };
        assert!(load_with(&flags, ListEnv::default()).is_err());
    }
}

//! The task integrations' configuration, one for every command that runs executions —
//! `run`, `worker`, `gateway` and `dev` — so one definition behaves the same on every path:
//! the `[tasks]` section of the configuration file, then `QUICKSTEP_TASKS__*` (`__` nests,
//! e.g. `QUICKSTEP_TASKS__LAMBDA__ENDPOINT`), then `QUICKSTEP_LAMBDA_ENDPOINT` where no
//! endpoint is set yet.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use runtime::tasks::config::TasksConfig;
use std::path::Path;

/// The environment layer of `[tasks]`: `QUICKSTEP_TASKS__…` as `tasks.…`.
pub fn env_layer() -> Env {
    Env::prefixed("QUICKSTEP_")
        .split("__")
        // Not lowercased yet at this point.
        .filter(|key| key.as_str().to_ascii_lowercase().starts_with("tasks."))
}

/// The `[tasks]` section of `file` (a worker or gateway configuration file; its other
/// sections are not read here), layered with the environment.
pub fn load(file: Option<&Path>) -> Result<TasksConfig, Box<figment::Error>> {
    let mut figment = Figment::from(Serialized::default("tasks", TasksConfig::default()));
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }
    let mut config: TasksConfig = figment
        .merge(env_layer())
        .extract_inner("tasks")
        .map_err(Box::new)?;
    config.read_env();
    Ok(config)
}

#[cfg(test)]
// figment's Jail closures return its (large) error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn the_file_then_the_environment_then_the_lambda_variable() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "quickstep.toml",
                "brokers = \"elsewhere:9092\"\n[tasks.lambda]\nendpoint = \"http://file:1\"\n[tasks.rate_limits]\n\"lambda:f\" = 5\n",
            )?;
            let config = load(Some(Path::new("quickstep.toml"))).expect("loads");
            assert_eq!(config.lambda.endpoint.as_deref(), Some("http://file:1"));
            assert_eq!(config.rate_limits.get("lambda:f"), Some(&5));
            jail.set_env("QUICKSTEP_TASKS__LAMBDA__ENDPOINT", "http://env:2");
            jail.set_env("QUICKSTEP_LAMBDA_ENDPOINT", "http://plain:3");
            let config = load(Some(Path::new("quickstep.toml"))).expect("loads");
            assert_eq!(config.lambda.endpoint.as_deref(), Some("http://env:2"));
            let config = load(None).expect("loads");
            assert_eq!(config.lambda.endpoint.as_deref(), Some("http://env:2"));
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("QUICKSTEP_LAMBDA_ENDPOINT", "http://plain:3");
            let config = load(None).expect("loads");
            assert_eq!(config.lambda.endpoint.as_deref(), Some("http://plain:3"));
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_setting_is_an_error_that_names_it() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("quickstep.toml", "[tasks.lambda]\nendpont = \"x\"\n")?;
            let error = load(Some(Path::new("quickstep.toml")))
                .unwrap_err()
                .to_string();
            assert!(error.contains("endpont"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_aws_section_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "quickstep.toml",
                "[tasks.aws]\nregion = \"eu-west-1\"\n[tasks.aws.endpoints]\ndynamodb = \"http://ddb:8000\"\n",
            )?;
            jail.set_env("QUICKSTEP_TASKS__AWS__PROFILE", "orders");
            let config = load(Some(Path::new("quickstep.toml"))).expect("loads");
            assert_eq!(config.aws.region.as_deref(), Some("eu-west-1"));
            assert_eq!(config.aws.profile.as_deref(), Some("orders"));
            assert_eq!(
                config.aws.endpoints.get("dynamodb").map(String::as_str),
                Some("http://ddb:8000")
            );
            jail.create_file("bad.toml", "[tasks.aws]\nregoin = \"x\"\n")?;
            let error = load(Some(Path::new("bad.toml"))).unwrap_err().to_string();
            assert!(error.contains("regoin"), "{error}");
            Ok(())
        });
    }
}

//! The task integrations' configuration (`[tasks]` in the worker's TOML): endpoints,
//! timeouts, named HTTP connections and their secrets, rate limits, the callback topic.
//!
//! Secrets are never written here: a connection names an environment variable or a file
//! that holds each secret, and they are read once when the integrations are built.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The environment variable that gives the Lambda endpoint when the configuration has none;
/// read once at startup (`TasksConfig::read_env`).
pub const LAMBDA_ENDPOINT_ENV: &str = "QUICKSTEP_LAMBDA_ENDPOINT";

/// Everything the task integrations need.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksConfig {
    /// Where Lambda tasks are sent.
    #[serde(default)]
    pub lambda: LambdaConfig,
    /// The HTTP Task (`arn:aws:states:::http:invoke`).
    #[serde(default)]
    pub http: HttpConfig,
    /// Named connections for the HTTP Task's `Authentication.ConnectionArn`: the name is the
    /// last path segment of an EventBridge connection ARN (`…:connection/NAME/ID`) or the
    /// whole value.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionConfig>,
    /// Calls per second per task target, as token buckets (burst = the rate). Targets are
    /// `lambda:FUNCTION`, `http:HOST[:PORT]`, `kafka:TOPIC` and `aws:SERVICE` (`aws:dynamodb`,
    /// `aws:sqs`, … by the `aws-sdk:` name); `*` applies to every target
    /// without an entry of its own.
    #[serde(default)]
    pub rate_limits: BTreeMap<String, u32>,
    /// `.waitForTaskToken` callbacks.
    #[serde(default)]
    pub callbacks: CallbackConfig,
    /// AWS service integrations (optimised and `aws-sdk:`): region, profile, endpoints.
    #[serde(default)]
    pub aws: AwsConfig,
}

/// AWS service integrations. Credentials are never configured here: they come from the AWS
/// SDKs' default chain (environment, profile, web identity, container, instance metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// The region; else `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`.
    #[serde(default)]
    pub region: Option<String>,
    /// The shared-config profile; else `AWS_PROFILE`, else `default`.
    #[serde(default)]
    pub profile: Option<String>,
    /// Endpoint per service, by its `aws-sdk:` name (`dynamodb`, `sqs`, `sns`, `eventbridge`,
    /// `s3`, `secretsmanager`, `ssm`, `kms`, `sfn`, `lambda`, `sts`); these win over
    /// `AWS_ENDPOINT_URL_<SERVICE>` and `AWS_ENDPOINT_URL`.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// How long connecting may take, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// How long a service may stay silent while answering, in milliseconds (the state's
    /// `TimeoutSeconds` bounds a call as well).
    #[serde(default = "default_aws_read_timeout_ms")]
    pub read_timeout_ms: u64,
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: None,
            profile: None,
            endpoints: BTreeMap::new(),
            connect_timeout_ms: default_connect_timeout_ms(),
            read_timeout_ms: default_aws_read_timeout_ms(),
        }
    }
}

impl TasksConfig {
    /// Fills what the environment may give and the configuration left open:
    /// `QUICKSTEP_LAMBDA_ENDPOINT`. Called once at startup; nothing reads it later.
    pub fn read_env(&mut self) {
        if self.lambda.endpoint.is_none() {
            if let Ok(endpoint) = std::env::var(LAMBDA_ENDPOINT_ENV) {
                if !endpoint.is_empty() {
                    self.lambda.endpoint = Some(endpoint);
                }
            }
        }
    }
}

/// Lambda over the Invoke API (`POST {endpoint}/2015-03-31/functions/NAME/invocations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaConfig {
    /// The Lambda-compatible endpoint, e.g. `http://127.0.0.1:9001`; Lambda tasks fail with
    /// a clear error when there is none.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// How long connecting may take, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// How long the endpoint may stay silent while answering, in milliseconds; none by
    /// default (the state's `TimeoutSeconds` bounds a call).
    #[serde(default)]
    pub read_timeout_ms: Option<u64>,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        LambdaConfig {
            endpoint: None,
            connect_timeout_ms: default_connect_timeout_ms(),
            read_timeout_ms: None,
        }
    }
}

/// The HTTP Task's client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// How long connecting may take, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// How long the server may stay silent while answering, in milliseconds (AWS's HTTP
    /// Task allows 60 s).
    #[serde(default = "default_http_read_timeout_ms")]
    pub read_timeout_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout_ms: default_connect_timeout_ms(),
            read_timeout_ms: default_http_read_timeout_ms(),
        }
    }
}

/// One named connection: how to authenticate, plus parameters added to every call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// How calls through this connection authenticate.
    pub auth: AuthConfig,
    /// Headers added to every call (the call's own win on a clash).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query parameters added to every call.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
}

/// The three authorization types of EventBridge connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// A header carrying a key: `header: value`.
    ApiKey {
        /// The header's name, e.g. `x-api-key`.
        header: String,
        /// Where the key is.
        value: SecretSource,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// Where the password is.
        password: SecretSource,
    },
    /// OAuth 2.0 client credentials: a bearer token from `token_endpoint`, cached until
    /// shortly before it expires.
    OauthClientCredentials {
        /// The authorization server's token URL.
        token_endpoint: String,
        /// The client id.
        client_id: String,
        /// Where the client secret is.
        client_secret: SecretSource,
        /// The `scope` to ask for, if any.
        #[serde(default)]
        scope: Option<String>,
    },
}

/// Where a secret is: an environment variable or a file (trailing newline dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// The environment variable holding it.
    #[serde(default)]
    pub env: Option<String>,
    /// The file holding it.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl SecretSource {
    /// Reads the secret; the error names where it looked, never what it found.
    pub fn read(&self) -> Result<Secret, String> {
        match (&self.env, &self.file) {
            (Some(name), None) => std::env::var(name)
                .map(Secret)
                .map_err(|_| format!("the environment variable {name} is not set")),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|text| Secret(text.trim_end_matches(['\r', '\n']).to_owned()))
                .map_err(|e| format!("the secret file {} cannot be read: {e}", path.display())),
            _ => Err("a secret needs exactly one of `env` or `file`".into()),
        }
    }
}

/// A secret value: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl Secret {
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `.waitForTaskToken` callbacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackConfig {
    /// The topic SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat records arrive on;
    /// every worker reads all of it with a group of its own.
    #[serde(default = "default_callback_topic")]
    pub topic: String,
    /// Whether the worker follows the callback topic.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        CallbackConfig {
            topic: default_callback_topic(),
            enabled: true,
        }
    }
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}
fn default_http_read_timeout_ms() -> u64 {
    60_000
}
fn default_aws_read_timeout_ms() -> u64 {
    60_000
}
fn default_callback_topic() -> String {
    "quickstep.callbacks".into()
}
fn default_true() -> bool {
    true
}

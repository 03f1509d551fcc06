//! AWS credentials and region by the SDKs' default chain: environment, shared profile,
//! web identity (Kubernetes service accounts, via STS AssumeRoleWithWebIdentity), container
//! metadata, instance metadata (IMDSv2). Temporary credentials are cached until shortly
//! before they expire. Secrets stay in [`Secret`]s: never printed, never in an error.
//!
//! Hand-written rather than `aws-config`: that crate brings the SDK's runtime (hyper 0.14 /
//! its own HTTP stack, retries, token caches) for five small HTTP exchanges; see DESIGN.md.

use super::xml;
use crate::tasks::config::Secret;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// Temporary credentials are refreshed this long before they expire.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// How long a metadata endpoint may take: they are local, a slow one is not there.
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);
/// The ECS/EKS container credential host for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const CONTAINER_HOST: &str = "http://169.254.170.2";
/// The hosts a plain-HTTP `AWS_CONTAINER_CREDENTIALS_FULL_URI` may name (ECS, EKS Pod
/// Identity), besides loopback — the SDKs' rule, so a token is never sent elsewhere in clear.
const CONTAINER_HTTP_HOSTS: &[&str] = &["169.254.170.2", "169.254.170.23", "[fd00:ec2::23]"];
const IMDS_DEFAULT: &str = "http://169.254.169.254";

/// A set of credentials.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub expires: Option<SystemTime>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// The process environment as read once at startup (tests pass their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub vars: HashMap<String, String>,
    pub home: Option<PathBuf>,
}

impl Env {
    /// The real environment.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars().collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    /// A variable, when set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn file(&self, variable: &str, default: &str) -> Option<PathBuf> {
        match self.get(variable) {
            Some(path) => Some(PathBuf::from(path)),
            None => self.home.as_ref().map(|home| home.join(default)),
        }
    }

    /// The profile name: `AWS_PROFILE`, else the configured one, else `default`.
    pub fn profile_name(&self, configured: Option<&str>) -> String {
        configured
            .or_else(|| self.get("AWS_PROFILE"))
            .unwrap_or("default")
            .to_owned()
    }

    /// The profile's settings from `~/.aws/config` then `~/.aws/credentials` (which wins).
    pub fn profile(&self, name: &str) -> HashMap<String, String> {
        let mut settings = HashMap::new();
        if let Some(path) = self.file("AWS_CONFIG_FILE", ".aws/config") {
            let section = if name == "default" {
                "default".to_owned()
            } else {
                format!("profile {name}")
            };
            settings.extend(read_ini_section(&path, &section));
        }
        if let Some(path) = self.file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials") {
            settings.extend(read_ini_section(&path, name));
        }
        settings
    }
}

/// One section of an AWS shared config file. Hand-written: the format the SDKs read is a
/// small INI subset (`[section]`, `key = value`, `#`/`;` comments), not worth a crate.
fn read_ini_section(path: &Path, wanted: &str) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    let mut settings = HashMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == wanted;
            continue;
        }
        if inside {
            if let Some((key, value)) = line.split_once('=') {
                settings.insert(key.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
    settings
}

/// Where credentials come from, decided once at startup.
#[derive(Debug, Clone)]
pub enum Source {
    /// Environment variables or a profile's keys.
    Static(Credentials, &'static str),
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`: STS AssumeRoleWithWebIdentity.
    WebIdentity {
        token_file: PathBuf,
        role_arn: String,
        session_name: String,
        sts_endpoint: String,
    },
    /// The container credential endpoint (ECS, EKS Pod Identity).
    Container {
        url: String,
        token: Option<Secret>,
        token_file: Option<PathBuf>,
    },
    /// The instance metadata service, IMDSv2.
    Imds { endpoint: String },
    /// None of the above: every call fails with this reason.
    Missing(String),
}

impl Source {
    /// The SDKs' default chain over `env`; `profile` overrides `AWS_PROFILE`;
    /// `sts_endpoint` is where web identity tokens are exchanged.
    pub fn resolve(env: &Env, profile: Option<&str>, sts_endpoint: &str) -> Source {
        if let (Some(id), Some(secret)) = (
            env.get("AWS_ACCESS_KEY_ID"),
            env.get("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Source::Static(
                Credentials {
                    access_key_id: id.to_owned(),
                    secret_access_key: Secret(secret.to_owned()),
                    session_token: env.get("AWS_SESSION_TOKEN").map(|t| Secret(t.to_owned())),
                    expires: None,
                },
                "environment",
            );
        }
        let name = env.profile_name(profile);
        let settings = env.profile(&name);
        if let (Some(id), Some(secret)) = (
            settings.get("aws_access_key_id"),
            settings.get("aws_secret_access_key"),
        ) {
            return Source::Static(
                Credentials {
                    access_key_id: id.clone(),
                    secret_access_key: Secret(secret.clone()),
                    session_token: settings.get("aws_session_token").map(|t| Secret(t.clone())),
                    expires: None,
                },
                "profile",
            );
        }
        if let (Some(token_file), Some(role_arn)) = (
            env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
            env.get("AWS_ROLE_ARN"),
        ) {
            return Source::WebIdentity {
                token_file: PathBuf::from(token_file),
                role_arn: role_arn.to_owned(),
                session_name: env
                    .get("AWS_ROLE_SESSION_NAME")
                    .unwrap_or("quickstep")
                    .to_owned(),
                sts_endpoint: sts_endpoint.to_owned(),
            };
        }
        let token = env
            .get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .map(|t| Secret(t.to_owned()));
        let token_file = env
            .get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            .map(PathBuf::from);
        if let Some(relative) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return Source::Container {
                url: format!("{CONTAINER_HOST}{relative}"),
                token,
                token_file,
            };
        }
        if let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            return match allowed_container_uri(full) {
                Ok(()) => Source::Container {
                    url: full.to_owned(),
                    token,
                    token_file,
                },
                Err(reason) => Source::Missing(reason),
            };
        }
        if env
            .get("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Source::Missing(format!(
                "no credentials in the environment, the profile '{name}', web identity or \
                 container variables, and instance metadata is disabled"
            ));
        }
        Source::Imds {
            endpoint: env
                .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .unwrap_or(IMDS_DEFAULT)
                .trim_end_matches('/')
                .to_owned(),
        }
    }
}

/// The region: the configured one, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's.
pub fn region(env: &Env, configured: Option<&str>, profile: Option<&str>) -> Option<String> {
    configured
        .or_else(|| env.get("AWS_REGION"))
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
        .map(str::to_owned)
        .or_else(|| {
            env.profile(&env.profile_name(profile))
                .get("region")
                .cloned()
        })
}

fn allowed_container_uri(uri: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(uri)
        .map_err(|e| format!("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.scheme() == "https" || loopback || CONTAINER_HTTP_HOSTS.contains(&host) {
        Ok(())
    } else {
        Err(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, loopback or a container \
             credential host, not '{host}'"
        ))
    }
}

/// The chain's credentials, fetched on first use and cached until near expiry.
pub struct Provider {
    source: Source,
    client: reqwest::Client,
    cache: Mutex<Option<Credentials>>,
}

impl Provider {
    pub fn new(source: Source) -> Result<Provider, String> {
        let client = reqwest::Client::builder()
            .timeout(METADATA_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the credential client cannot be built: {e}"))?;
        Ok(Provider {
            source,
            client,
            cache: Mutex::new(None),
        })
    }

    /// Current credentials; the error says which source failed and why, never a secret.
    pub async fn get(&self) -> Result<Credentials, String> {
        if let Source::Static(credentials, _) = &self.source {
            return Ok(credentials.clone());
        }
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            let fresh = cached
                .expires
                .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE);
            if fresh {
                return Ok(cached.clone());
            }
        }
        let fetched = self.fetch().await?;
        *cache = Some(fetched.clone());
        Ok(fetched)
    }

    async fn fetch(&self) -> Result<Credentials, String> {
        match &self.source {
            Source::Static(credentials, _) => Ok(credentials.clone()),
            Source::Missing(reason) => Err(reason.clone()),
            Source::WebIdentity {
                token_file,
                role_arn,
                session_name,
                sts_endpoint,
            } => {
                web_identity(
                    &self.client,
                    token_file,
                    role_arn,
                    session_name,
                    sts_endpoint,
                )
                .await
            }
            Source::Container {
                url,
                token,
                token_file,
            } => {
                let mut request = self.client.get(url);
                let token = match (token, token_file) {
                    (_, Some(file)) => Some(
                        std::fs::read_to_string(file)
                            .map(|t| t.trim().to_owned())
                            .map_err(|e| {
                                format!(
                                    "the container authorization token file {} cannot be read: {e}",
                                    file.display()
                                )
                            })?,
                    ),
                    (Some(token), None) => Some(token.expose().to_owned()),
                    (None, None) => None,
                };
                if let Some(token) = token {
                    request = request.header("authorization", token);
                }
                let body = fetch_text(request, "the container credential endpoint").await?;
                json_credentials(&body, "the container credential endpoint")
            }
            Source::Imds { endpoint } => imds(&self.client, endpoint).await,
        }
    }
}

async fn fetch_text(request: reqwest::RequestBuilder, what: &str) -> Result<String, String> {
    let response = request
        .send()
        .await
        .map_err(|e| format!("{what} {}", crate::tasks::describe(&e)))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{what} {}", crate::tasks::describe(&e)))?;
    if !status.is_success() {
        // The body may echo a token; only the status is reported.
        return Err(format!("{what} answered HTTP {}", status.as_u16()));
    }
    Ok(text)
}

/// `{AccessKeyId, SecretAccessKey, Token, Expiration}`, as container and instance metadata
/// give them.
fn json_credentials(text: &str, what: &str) -> Result<Credentials, String> {
    let document: Value =
        serde_json::from_str(text).map_err(|_| format!("{what} answered something not JSON"))?;
    let field = |name: &str| document.get(name).and_then(Value::as_str);
    let (Some(id), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey")) else {
        return Err(format!(
            "{what} answered without AccessKeyId and SecretAccessKey"
        ));
    };
    Ok(Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: Secret(secret.to_owned()),
        session_token: field("Token").map(|t| Secret(t.to_owned())),
        expires: field("Expiration").and_then(parse_time),
    })
}

fn parse_time(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(SystemTime::from)
}

async fn web_identity(
    client: &reqwest::Client,
    token_file: &Path,
    role_arn: &str,
    session_name: &str,
    sts_endpoint: &str,
) -> Result<Credentials, String> {
    let what = "STS AssumeRoleWithWebIdentity";
    let token = std::fs::read_to_string(token_file).map_err(|e| {
        format!(
            "the web identity token file {} cannot be read: {e}",
            token_file.display()
        )
    })?;
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRoleWithWebIdentity")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role_arn)
        .append_pair("RoleSessionName", session_name)
        .append_pair("WebIdentityToken", token.trim())
        .finish();
    let request = client
        .post(sts_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    let text = fetch_text(request, what).await?;
    let root = xml::parse(text.as_bytes()).map_err(|e| format!("{what}: {e}"))?;
    let Some(credentials) = root.at(&["AssumeRoleWithWebIdentityResult", "Credentials"]) else {
        return Err(format!("{what} answered without Credentials"));
    };
    let (Some(id), Some(secret)) = (
        credentials.text_of("AccessKeyId"),
        credentials.text_of("SecretAccessKey"),
    ) else {
        return Err(format!("{what} answered without keys"));
    };
    Ok(Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: Secret(secret.to_owned()),
        session_token: credentials
            .text_of("SessionToken")
            .map(|t| Secret(t.to_owned())),
        expires: credentials.text_of("Expiration").and_then(parse_time),
    })
}

async fn imds(client: &reqwest::Client, endpoint: &str) -> Result<Credentials, String> {
    let what = "instance metadata (IMDSv2)";
    let token = fetch_text(
        client
            .put(format!("{endpoint}/latest/api/token"))
            .header("x-aws-ec2-metadata-token-ttl-seconds", "21600"),
        what,
    )
    .await?;
    let path = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
    let roles = fetch_text(
        client
            .get(&path)
            .header("x-aws-ec2-metadata-token", token.trim()),
        what,
    )
    .await?;
    let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Err(format!("{what} has no instance role"));
    };
    let body = fetch_text(
        client
            .get(format!("{path}{role}"))
            .header("x-aws-ec2-metadata-token", token.trim()),
        what,
    )
    .await?;
    json_credentials(&body, what)
}

#[cfg(test)]
mod tests;

//! AWS service integrations: the optimised ones (`arn:aws:states:::dynamodb:putItem`, SQS,
//! SNS, EventBridge, Step Functions) and `arn:aws:states:::aws-sdk:SERVICE:action`. One
//! small client — SigV4 (`aws-sigv4`) over the shared reqwest stack — sends every call;
//! errors are named as Step Functions names them for each kind of integration.
//!
//! Every call waits for its `aws:SERVICE` rate limit, carries a `traceparent`, is made once
//! (no SDK retries: Retry is the state machine's) and reads at most the payload limit.

pub mod credentials;
pub mod protocol;
pub mod services;
pub mod xml;

use super::config::AwsConfig;
use super::{describe, read_body, BodyError, RateLimits, TasksError};
use asl::{ErrorName, StatesError, TaskRequest};
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use credentials::{Env, Provider, Source};
use serde_json::{json, Map, Value};
use services::{Optimized, Service, OPTIMIZED, SDK_PREFIX, SDK_SERVICES};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

/// What a resource asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// An optimised integration.
    Optimized(Optimized),
    /// `aws-sdk:SERVICE:action`: the service and the action in PascalCase.
    Sdk(Service, String),
}

/// How an AWS resource is understood, or why it is not.
pub fn target(resource: &str) -> Option<Result<Target, String>> {
    if let Some(found) = OPTIMIZED.iter().find(|o| o.resource == resource) {
        return Some(Ok(Target::Optimized(*found)));
    }
    let rest = resource.strip_prefix(SDK_PREFIX)?;
    let Some((name, action)) = rest.split_once(':') else {
        return Some(Err(format!(
            "The resource '{resource}' must be arn:aws:states:::aws-sdk:SERVICE:action"
        )));
    };
    let Some(service) = services::by_name(name).filter(|s| SDK_SERVICES.contains(s)) else {
        let known: Vec<_> = SDK_SERVICES.iter().map(|s| s.sdk_name).collect();
        return Some(Err(format!(
            "The AWS SDK service '{name}' is not supported here; supported: {}",
            known.join(", ")
        )));
    };
    let valid = action
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && action.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid {
        return Some(Err(format!(
            "The action '{action}' in '{resource}' must be the API action in camelCase (e.g. getItem); \
             only the request-response and .waitForTaskToken patterns are supported"
        )));
    }
    Some(Ok(Target::Sdk(service, protocol::upper_first(action))))
}

/// Whether `resource` is an AWS integration (known or not): `tasks::Integrations` routes
/// these here.
pub fn is_aws(resource: &str) -> bool {
    resource.starts_with(SDK_PREFIX) || OPTIMIZED.iter().any(|o| o.resource == resource)
}

/// The AWS integrations.
pub struct Aws {
    client: reqwest::Client,
    credentials: Provider,
    region: Option<String>,
    endpoints: HashMap<&'static str, String>,
    limits: Arc<RateLimits>,
}

impl Aws {
    /// Builds the integrations from `config` and the environment `env` (read once, now).
    pub(crate) fn new(
        config: &AwsConfig,
        env: &Env,
        limits: Arc<RateLimits>,
    ) -> Result<Aws, TasksError> {
        for name in config.endpoints.keys() {
            if services::by_name(name).is_none() {
                return Err(TasksError(format!(
                    "aws.endpoints.{name} names no supported service (dynamodb, sqs, sns, \
                     eventbridge, s3, secretsmanager, ssm, kms, sfn, lambda, sts)"
                )));
            }
        }
        let region = credentials::region(env, config.region.as_deref(), config.profile.as_deref());
        let mut endpoints = HashMap::new();
        for service in SDK_SERVICES.iter().chain(std::iter::once(&services::STS)) {
            let specific = format!("AWS_ENDPOINT_URL_{}", service.env_id);
            let endpoint = config
                .endpoints
                .get(service.sdk_name)
                .map(String::as_str)
                .or_else(|| env.get(&specific))
                .or_else(|| env.get("AWS_ENDPOINT_URL"));
            if let Some(endpoint) = endpoint {
                reqwest::Url::parse(endpoint).map_err(|e| {
                    TasksError(format!(
                        "the {} endpoint '{endpoint}' is not a URL: {e}",
                        service.sdk_name
                    ))
                })?;
                endpoints.insert(service.sdk_name, endpoint.trim_end_matches('/').to_owned());
            }
        }
        let sts_endpoint = endpoints
            .get("sts")
            .cloned()
            .unwrap_or_else(|| match &region {
                Some(region) => format!("https://sts.{region}.amazonaws.com"),
                None => "https://sts.amazonaws.com".into(),
            });
        let source = Source::resolve(env, config.profile.as_deref(), &sts_endpoint);
        Ok(Aws {
            client: super::client(config.connect_timeout_ms, Some(config.read_timeout_ms))?,
            credentials: Provider::new(source).map_err(TasksError)?,
            region,
            endpoints,
            limits,
        })
    }

    /// Calls the AWS resource `resource` with the task's Parameters.
    pub(crate) async fn call(
        &self,
        resource: &str,
        request: &TaskRequest<'_>,
    ) -> Result<Value, StatesError> {
        let target = match target(resource) {
            Some(Ok(target)) => target,
            Some(Err(message)) => return Err(StatesError::new(ErrorName::TaskFailed, message)),
            None => {
                return Err(StatesError::new(
                    ErrorName::TaskFailed,
                    format!("No integration is configured for the resource '{resource}'"),
                ))
            }
        };
        let (service, action, optimized) = match &target {
            Target::Optimized(o) => (o.service, o.action.to_owned(), true),
            Target::Sdk(service, action) => (*service, action.clone(), false),
        };
        let naming = Naming::new(&service, optimized);
        let parameters = if optimized {
            optimized_parameters(&action, &request.input)
        } else {
            request.input.clone()
        };
        let wire = protocol::build(&service, &action, &parameters)
            .map_err(|e| StatesError::new(ErrorName::TaskFailed, e.0))?;
        self.limits.wait(&format!("aws:{}", service.sdk_name)).await;
        let (status, headers, body) = self.send(&service, &naming, wire, resource).await?;
        if !(200..300).contains(&status) {
            let fault = protocol::fault(status, &headers, &body);
            return Err(naming.service_error(&fault, status, &headers));
        }
        let answer = protocol::Answer {
            status,
            headers: &headers,
            body: &body,
        };
        let result = protocol::result(&service, &action, &answer)
            .map_err(|e| naming.client_error(&format!("Unable to read the response: {e}")))?;
        if !optimized {
            return Ok(result);
        }
        if action == "PutEvents" && result.get("FailedEntryCount").and_then(Value::as_u64) > Some(0)
        {
            // AWS's optimised EventBridge integration fails the task on a failed entry.
            return Err(StatesError::new(
                ErrorName::Custom(format!("{}.FailedEntry", naming.prefix)),
                result.to_string(),
            ));
        }
        Ok(with_metadata(result, status, &headers))
    }

    async fn send(
        &self,
        service: &Service,
        naming: &Naming,
        wire: protocol::Request,
        resource: &str,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), StatesError> {
        let Some(region) = &self.region else {
            return Err(naming.client_error(
                "Unable to find a region: set AWS_REGION, AWS_DEFAULT_REGION, a profile's region \
                 or tasks.aws.region",
            ));
        };
        let endpoint = match self.endpoints.get(service.sdk_name) {
            Some(endpoint) => endpoint.clone(),
            None => format!("https://{}.{region}.amazonaws.com", service.endpoint_prefix),
        };
        let url = format!("{endpoint}{}", wire.path_and_query);
        let parsed = reqwest::Url::parse(&url).map_err(|e| {
            naming.client_error(&format!("The endpoint '{endpoint}' is unusable: {e}"))
        })?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(naming.client_error("The endpoint has no host")),
        };
        let credentials = self.credentials.get().await.map_err(|reason| {
            naming.client_error(&format!("Unable to load AWS credentials: {reason}"))
        })?;
        let mut headers = wire.headers;
        headers.push(("host".into(), host));
        let mut settings = SigningSettings::default();
        if service.sdk_name == services::S3.sdk_name {
            // S3 signs the path as sent and the payload hash as a header.
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let identity = aws_credential_types::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.expose().to_owned(),
            credentials
                .session_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            credentials.expires,
            "quickstep",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service.signing_name)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| naming.client_error(&format!("Unable to sign the request: {e}")))?
            .into();
        let signable = SignableRequest::new(
            wire.method,
            url.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&wire.body),
        )
        .map_err(|e| naming.client_error(&format!("Unable to sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| naming.client_error(&format!("Unable to sign the request: {e}")))?
            .into_parts();
        let method = reqwest::Method::from_bytes(wire.method.as_bytes())
            .map_err(|e| naming.client_error(&e.to_string()))?;
        let mut builder = self.client.request(method, parsed);
        for (name, value) in headers.iter().filter(|(k, _)| k != "host") {
            builder = builder.header(name, value);
        }
        for (name, value) in instructions.headers() {
            builder = builder.header(name, value);
        }
        // Not signed: the trace header may be rewritten by proxies without breaking SigV4.
        builder = builder.header("traceparent", super::trace::outgoing());
        let response = builder
            .body(wire.body)
            .send()
            .await
            .map_err(|e| naming.transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match read_body(response, resource).await {
            Ok(body) => Ok((status, headers, body)),
            Err(BodyError::TooLarge(error)) => Err(error),
            Err(BodyError::Transport(e)) => Err(naming.transport_error(&e)),
        }
    }
}

/// How errors are named for one call: `DynamoDB.` (optimised) or `DynamoDb.` (SDK).
struct Naming {
    prefix: &'static str,
}

impl Naming {
    fn new(service: &Service, optimized: bool) -> Naming {
        let prefix = match service.optimized_errors {
            Some(prefix) if optimized => prefix,
            _ => service.sdk_errors,
        };
        Naming { prefix }
    }

    /// The service refused the call: `PREFIX.CodeException` (Step Functions adds the
    /// `Exception` suffix where a service's code lacks it, e.g. `S3.NoSuchKeyException`).
    fn service_error(
        &self,
        fault: &protocol::ServiceFault,
        status: u16,
        headers: &reqwest::header::HeaderMap,
    ) -> StatesError {
        let code = if fault.code.ends_with("Exception") {
            fault.code.clone()
        } else {
            format!("{}Exception", fault.code)
        };
        let request_id = ["x-amzn-requestid", "x-amz-request-id"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
            .unwrap_or("");
        StatesError::new(
            ErrorName::Custom(format!("{}.{code}", self.prefix)),
            format!(
                "{} (Service: {}; Status Code: {status}; Error Code: {}; Request ID: {request_id}; Proxy: null)",
                fault.message, self.prefix, fault.code
            ),
        )
    }

    /// The call never got an answer: the SDK's client error.
    fn client_error(&self, message: &str) -> StatesError {
        StatesError::new(
            ErrorName::Custom(format!("{}.{}", self.prefix, SDK_CLIENT_EXCEPTION)),
            message.to_owned(),
        )
    }

    fn transport_error(&self, error: &reqwest::Error) -> StatesError {
        self.client_error(&format!(
            "Unable to execute HTTP request: the endpoint {}",
            describe(error)
        ))
    }
}

/// The error of a call that got no answer from the service (the AWS SDKs' name).
pub const SDK_CLIENT_EXCEPTION: &str = "SdkClientException";

/// The optimised integrations take JSON where the API takes text (SQS MessageBody, SNS
/// Message, EventBridge Detail, Step Functions Input) and send its JSON text.
fn optimized_parameters(action: &str, input: &Value) -> Value {
    let mut parameters = input.clone();
    let as_text = |value: &mut Value| {
        if !matches!(value, Value::String(_) | Value::Null) {
            *value = Value::String(value.to_string());
        }
    };
    match action {
        "SendMessage" => parameters.get_mut("MessageBody").map(as_text),
        "Publish" => parameters.get_mut("Message").map(as_text),
        "StartExecution" => parameters.get_mut("Input").map(as_text),
        "PutEvents" => parameters
            .get_mut("Entries")
            .and_then(Value::as_array_mut)
            .map(|entries| {
                for entry in entries {
                    if let Some(detail) = entry.get_mut("Detail") {
                        as_text(detail);
                    }
                }
            }),
        _ => None,
    };
    parameters
}

/// The optimised integrations' envelope: the response plus `SdkHttpMetadata` and
/// `SdkResponseMetadata`, as AWS returns them.
fn with_metadata(result: Value, status: u16, headers: &reqwest::header::HeaderMap) -> Value {
    let mut result = match result {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    let mut all = Map::new();
    let mut single = Map::new();
    for (name, value) in headers {
        let value = value.to_str().unwrap_or_default().to_owned();
        single.insert(name.as_str().to_owned(), value.clone().into());
        if let Value::Array(values) = all
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            values.push(value.into());
        }
    }
    let request_id = ["x-amzn-requestid", "x-amz-request-id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .unwrap_or_default();
    result.insert(
        "SdkHttpMetadata".into(),
        json!({"AllHttpHeaders": all, "HttpHeaders": single, "HttpStatusCode": status}),
    );
    result.insert(
        "SdkResponseMetadata".into(),
        json!({ "RequestId": request_id }),
    );
    Value::Object(result)
}

#[cfg(test)]
mod tests;

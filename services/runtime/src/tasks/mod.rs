//! Task integrations: what a Task state's `Resource` calls.
//!
//! | resource | integration |
//! |---|---|
//! | `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` | Lambda Invoke API; result = the function's payload |
//! | `arn:aws:states:::lambda:invoke` | Lambda Invoke API; result = `{ExecutedVersion, Payload, SdkHttpMetadata, SdkResponseMetadata, StatusCode}` |
//! | `arn:aws:states:::http:invoke` | the HTTP Task; result = `{StatusCode, StatusText, Headers, ResponseBody}` |
//! | `arn:aws:states:::quickstep:kafka.produce` | produces `{Topic, Key, Headers, Value}`; result = `{Topic, Partition, Offset}` once acknowledged |
//! | `arn:aws:states:::quickstep:callback.waitForTaskToken` | calls nothing: waits for SendTaskSuccess / SendTaskFailure |
//! | `arn:aws:states:::dynamodb:getItem` … `events:putEvents`, `states:startExecution` | AWS's optimised integrations (`aws`) |
//! | `arn:aws:states:::aws-sdk:SERVICE:action` | AWS SDK integrations (`aws`; services in `aws::services`) |
//! | any of the above + `.waitForTaskToken` | calls, then waits for the callback (`$$.Task.Token`) |
//!
//! No integration retries: Retry stays the state machine's. Every outgoing HTTP call carries
//! a W3C `traceparent`; every target may have a token bucket (`tasks.rate_limits`).

#[cfg(feature = "aws")]
pub mod aws;
pub mod callback;
pub mod config;
pub mod http;
pub mod http_trace;
pub mod kafka;
pub mod lambda;
pub mod mock;
pub mod trace;

use crate::tasks::callback::CallbackRegistry;
use crate::tasks::config::TasksConfig;
use asl::{ErrorName, StatesError, TaskHandler, TaskRequest};
use futures::future::BoxFuture;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use rdkafka::producer::FutureProducer;
use serde_json::Value;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

/// The Kafka produce task's resource (a Quickstep extension).
pub const KAFKA_PRODUCE: &str = "arn:aws:states:::quickstep:kafka.produce";
/// The pure callback resource: waits for a token's answer, calls nothing.
pub const CALLBACK: &str = "arn:aws:states:::quickstep:callback";
/// The optimised Lambda integration.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
/// The HTTP Task.
pub const HTTP_INVOKE: &str = "arn:aws:states:::http:invoke";
const WAIT_FOR_TASK_TOKEN: &str = ".waitForTaskToken";

/// Why the integrations cannot be built from a configuration.
#[derive(Debug, thiserror::Error)]
#[error("task integrations: {0}")]
pub struct TasksError(pub String);

/// The integrations a worker offers.
pub struct Integrations {
    lambda: lambda::Lambda,
    http: http::HttpTask,
    kafka: Option<kafka::KafkaTask>,
    #[cfg(feature = "aws")]
    aws: aws::Aws,
    callbacks: Arc<CallbackRegistry>,
}

impl Integrations {
    /// Builds every integration: secrets are read now (and only now); `producer`, when
    /// given, serves the Kafka task; `callbacks` holds the tokens being waited for.
    /// The AWS integrations read the process environment (credentials, region, endpoints)
    /// once, here.
    pub fn new(
        config: &TasksConfig,
        producer: Option<FutureProducer>,
        callbacks: Arc<CallbackRegistry>,
    ) -> Result<Integrations, TasksError> {
        #[cfg(feature = "aws")]
        {
            Self::with_env(
                config,
                producer,
                callbacks,
                &aws::credentials::Env::from_process(),
            )
        }
        #[cfg(not(feature = "aws"))]
        {
            let limits = Arc::new(RateLimits::new(&config.rate_limits)?);
            Ok(Integrations {
                lambda: lambda::Lambda::new(&config.lambda, limits.clone())?,
                http: http::HttpTask::new(&config.http, &config.connections, limits.clone())?,
                kafka: producer.map(|p| kafka::KafkaTask::new(p, limits)),
                callbacks,
            })
        }
    }

    /// As [`Integrations::new`], with the AWS environment given (tests, embedders).
    #[cfg(feature = "aws")]
    pub fn with_env(
        config: &TasksConfig,
        producer: Option<FutureProducer>,
        callbacks: Arc<CallbackRegistry>,
        env: &aws::credentials::Env,
    ) -> Result<Integrations, TasksError> {
        let limits = Arc::new(RateLimits::new(&config.rate_limits)?);
        Ok(Integrations {
            lambda: lambda::Lambda::new(&config.lambda, limits.clone())?,
            http: http::HttpTask::new(&config.http, &config.connections, limits.clone())?,
            aws: aws::Aws::new(&config.aws, env, limits.clone())?,
            kafka: producer.map(|p| kafka::KafkaTask::new(p, limits)),
            callbacks,
        })
    }

    /// Exactly-once: the Kafka task produces inside the gate's transactions.
    pub fn with_transactions(mut self, gate: Arc<crate::kafka::TransactionGate>) -> Integrations {
        if let Some(kafka) = &mut self.kafka {
            kafka.set_transactions(gate);
        }
        self
    }

    /// The tokens this worker's executions are waiting on.
    pub fn callbacks(&self) -> Arc<CallbackRegistry> {
        self.callbacks.clone()
    }

    async fn call(&self, resource: &str, request: &TaskRequest<'_>) -> Result<Value, StatesError> {
        if resource.starts_with("arn:aws:lambda:") && resource.contains(":function:") {
            return self.lambda.invoke_arn(resource, request).await;
        }
        match resource {
            LAMBDA_INVOKE => self.lambda.invoke_envelope(request).await,
            HTTP_INVOKE => self.http.invoke(request).await,
            KAFKA_PRODUCE => match &self.kafka {
                Some(kafka) => kafka.produce(request).await,
                None => Err(StatesError::new(
                    ErrorName::TaskFailed,
                    "The Kafka task needs a producer; none is configured here",
                )),
            },
            CALLBACK => Ok(Value::Null),
            #[cfg(feature = "aws")]
            aws if aws::is_aws(aws) => self.aws.call(aws, request).await,
            other if other.starts_with("arn:aws:states:::") && cfg!(not(feature = "aws")) => {
                Err(StatesError::new(
                    ErrorName::TaskFailed,
                    format!("The resource '{other}' needs Quickstep built with the `aws` feature"),
                ))
            }
            other => Err(StatesError::new(
                ErrorName::TaskFailed,
                format!("No integration is configured for the resource '{other}'"),
            )),
        }
    }
}

impl TaskHandler for Integrations {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            let resource = request.resource;
            let Some(base) = resource.strip_suffix(WAIT_FOR_TASK_TOKEN) else {
                if resource == CALLBACK {
                    return Err(StatesError::runtime(format!(
                        "The resource '{CALLBACK}' needs the .waitForTaskToken suffix"
                    )));
                }
                return self.call(resource, &request).await;
            };
            let Some(token) = request.task_token.clone() else {
                return Err(StatesError::runtime(
                    "A .waitForTaskToken task has no token",
                ));
            };
            // Registered before the call: the callee may answer before its call returns.
            let waiter = self.callbacks.register(
                &token,
                request.execution_arn,
                request.heartbeat.clone(),
            )?;
            self.call(base, &request).await?;
            waiter.wait().await
        })
    }
}

/// Token buckets per task target (`lambda:NAME`, `http:HOST`, `kafka:TOPIC`).
pub(crate) struct RateLimits {
    targets: HashMap<String, DefaultDirectRateLimiter>,
    fallback: Option<DefaultKeyedRateLimiter<String>>,
}

impl RateLimits {
    fn new(rates: &std::collections::BTreeMap<String, u32>) -> Result<RateLimits, TasksError> {
        let quota = |target: &str, rate: u32| {
            NonZeroU32::new(rate).map(Quota::per_second).ok_or_else(|| {
                TasksError(format!(
                    "rate_limits.{target} must be at least 1 per second"
                ))
            })
        };
        let mut targets = HashMap::new();
        let mut fallback = None;
        for (target, rate) in rates {
            let quota = quota(target, *rate)?;
            if target == "*" {
                fallback = Some(RateLimiter::keyed(quota));
            } else {
                targets.insert(target.clone(), RateLimiter::direct(quota));
            }
        }
        Ok(RateLimits { targets, fallback })
    }

    /// Waits for the target's bucket (the state's TimeoutSeconds still bounds the wait).
    pub(crate) async fn wait(&self, target: &str) {
        if let Some(limiter) = self.targets.get(target) {
            limiter.until_ready().await;
        } else if let Some(limiter) = &self.fallback {
            limiter.until_key_ready(&target.to_owned()).await;
        }
    }
}

/// Bodies are read up to this many bytes: a result cannot be larger than the payload limit,
/// so a larger body fails with `States.DataLimitExceeded` without being held in memory.
pub(crate) const MAX_BODY_BYTES: usize = asl::interpret::PAYLOAD_LIMIT_BYTES;

/// The engine's own wording for a result over the limit: a Task is named by its resource,
/// an optimised integration (`arn:aws:states:::lambda:invoke`) by its service.
pub(crate) fn result_too_large(resource: &str) -> StatesError {
    let culprit = match resource.strip_prefix("arn:aws:states:::") {
        Some(rest) => rest.split(':').next().unwrap_or(rest),
        None => resource,
    };
    StatesError::data_limit(format!(
        "The state/task '{culprit}' returned a result with a size exceeding the maximum number of bytes service limit."
    ))
}

/// Reads a response body, refusing more than `MAX_BODY_BYTES`.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    resource: &str,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge(result_too_large(resource)));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge(result_too_large(resource)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a body could not be read.
pub(crate) enum BodyError {
    TooLarge(StatesError),
    Transport(reqwest::Error),
}

/// Describes a transport failure without the URL (which may carry a connection's query
/// secrets): "timed out", "connection refused", ….
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "failed while reading the response"
    } else if error.is_request() {
        "failed while sending the request"
    } else {
        "failed"
    };
    let mut source = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(inner) = source {
        detail = inner.to_string();
        source = inner.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

/// A fresh reqwest client with the given timeouts. It never retries, and follows at most
/// ten redirects, only within the same origin (a connection's headers never leave it).
pub(crate) fn client(
    connect_timeout_ms: u64,
    read_timeout_ms: Option<u64>,
) -> Result<reqwest::Client, TasksError> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt.previous().first().is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if attempt.previous().len() > 10 || !same_origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    let mut builder = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_millis(connect_timeout_ms))
        .redirect(policy);
    if let Some(ms) = read_timeout_ms {
        builder = builder.read_timeout(std::time::Duration::from_millis(ms));
    }
    builder
        .build()
        .map_err(|e| TasksError(format!("the HTTP client cannot be built: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::collections::BTreeMap;

    fn limits(rates: &[(&str, u32)]) -> Result<RateLimits, TasksError> {
        let rates: BTreeMap<String, u32> = rates.iter().map(|(t, r)| (t.to_string(), *r)).collect();
        RateLimits::new(&rates)
    }

    /// A bucket of one per second: the first call goes at once, the second waits (it would
    /// need a whole second to pass between two polls to be ready).
    #[test]
    fn a_target_bucket_makes_the_next_call_wait() {
        let limits = limits(&[("http:api.example.com", 1)]).expect("valid");
        assert!(limits.wait("http:api.example.com").now_or_never().is_some());
        assert!(limits.wait("http:api.example.com").now_or_never().is_none());
        // Other targets have no bucket and no fallback: never held.
        for _ in 0..100 {
            assert!(limits.wait("lambda:other").now_or_never().is_some());
        }
    }

    #[test]
    fn the_fallback_bucket_is_per_target() {
        let limits = limits(&[("*", 1)]).expect("valid");
        assert!(limits.wait("lambda:a").now_or_never().is_some());
        assert!(
            limits.wait("lambda:b").now_or_never().is_some(),
            "a bucket of its own"
        );
        assert!(limits.wait("lambda:a").now_or_never().is_none());
    }

    #[test]
    fn a_zero_rate_is_a_configuration_error() {
        let error = limits(&[("kafka:orders", 0)]).err().expect("refused");
        assert!(error.to_string().contains("kafka:orders"), "{error}");
    }
}

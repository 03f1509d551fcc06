//! Lambda over the Invoke API: `POST {endpoint}/2015-03-31/functions/NAME/invocations`, so
//! any Lambda-compatible runtime or emulator serves it.
//!
//! Lambda carries bytes: an object Payload is sent as its JSON text, a string Payload as the
//! string itself, and the response is JSON when it parses (else a string). A function error
//! (`X-Amz-Function-Error`) fails the task with error = the document's `errorType` and
//! cause = the document as the function returned it, as AWS does.

use super::config::LambdaConfig;
use super::{describe, read_body, BodyError, RateLimits, TasksError};
use asl::{ErrorName, StatesError, TaskRequest};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The Lambda integration.
pub struct Lambda {
    endpoint: Option<String>,
    client: reqwest::Client,
    limits: Arc<RateLimits>,
}

/// What the Invoke API answered.
struct Invoked {
    status: u16,
    payload: Value,
    headers: reqwest::header::HeaderMap,
}

impl Lambda {
    pub(crate) fn new(
        config: &LambdaConfig,
        limits: Arc<RateLimits>,
    ) -> Result<Lambda, TasksError> {
        Ok(Lambda {
            endpoint: config
                .endpoint
                .as_ref()
                .map(|e| e.trim_end_matches('/').to_owned()),
            client: super::client(config.connect_timeout_ms, config.read_timeout_ms)?,
            limits,
        })
    }

    /// `arn:aws:lambda:…:function:NAME[:QUALIFIER]`: the effective input is the payload and
    /// the function's answer is the result.
    pub(crate) async fn invoke_arn(
        &self,
        resource: &str,
        request: &TaskRequest<'_>,
    ) -> Result<Value, StatesError> {
        let (name, qualifier) = function_and_qualifier(resource, None);
        let body = serde_json::to_vec(&request.input).unwrap_or_default();
        let invoked = self
            .invoke(resource, &name, qualifier.as_deref(), None, body)
            .await?;
        Ok(invoked.payload)
    }

    /// `arn:aws:states:::lambda:invoke`: Parameters name the function (`FunctionName`,
    /// `Qualifier`, `InvocationType`, `Payload`); the result is the envelope.
    pub(crate) async fn invoke_envelope(
        &self,
        request: &TaskRequest<'_>,
    ) -> Result<Value, StatesError> {
        let input = &request.input;
        let Some(function) = input.get("FunctionName").and_then(Value::as_str) else {
            return Err(StatesError::runtime(
                "The field 'FunctionName' is required and must be a string",
            ));
        };
        let qualifier = input.get("Qualifier").and_then(Value::as_str);
        let (name, qualifier) = function_and_qualifier(function, qualifier);
        let invocation_type = input.get("InvocationType").and_then(Value::as_str);
        let body = match input.get("Payload") {
            None | Some(Value::Null) => b"{}".to_vec(),
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(other) => serde_json::to_vec(other).unwrap_or_default(),
        };
        let invoked = self
            .invoke(
                request.resource,
                &name,
                qualifier.as_deref(),
                invocation_type,
                body,
            )
            .await?;
        let mut all = Map::new();
        let mut single = Map::new();
        for (name, value) in &invoked.headers {
            let value = value.to_str().unwrap_or_default().to_owned();
            single.insert(name.as_str().to_owned(), value.clone().into());
            match all
                .entry(name.as_str().to_owned())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(values) => values.push(value.into()),
                _ => unreachable!("inserted as an array"),
            }
        }
        let header = |name: &str| {
            invoked
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(json!({
            "ExecutedVersion": header("x-amz-executed-version").unwrap_or_else(|| "$LATEST".into()),
            "Payload": invoked.payload,
            "SdkHttpMetadata": {
                "AllHttpHeaders": all,
                "HttpHeaders": single,
                "HttpStatusCode": invoked.status,
            },
            "SdkResponseMetadata": {
                "RequestId": header("x-amzn-requestid").unwrap_or_default(),
            },
            "StatusCode": invoked.status,
        }))
    }

    async fn invoke(
        &self,
        resource: &str,
        name: &str,
        qualifier: Option<&str>,
        invocation_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Invoked, StatesError> {
        let Some(endpoint) = &self.endpoint else {
            return Err(StatesError::new(
                ErrorName::TaskFailed,
                format!(
                    "No Lambda endpoint is configured (lambda.endpoint or {}) for the function '{name}'",
                    super::config::LAMBDA_ENDPOINT_ENV
                ),
            ));
        };
        self.limits.wait(&format!("lambda:{name}")).await;
        let mut url = match reqwest::Url::parse(&format!("{endpoint}/2015-03-31/functions/")) {
            Ok(url) => url,
            Err(e) => {
                return Err(StatesError::new(
                    ErrorName::TaskFailed,
                    format!("The Lambda endpoint '{endpoint}' is not a URL: {e}"),
                ))
            }
        };
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(name).push("invocations");
        }
        if let Some(qualifier) = qualifier {
            url.query_pairs_mut().append_pair("Qualifier", qualifier);
        }
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header(
                "x-amz-invocation-type",
                invocation_type.unwrap_or("RequestResponse"),
            )
            .header("traceparent", super::trace::outgoing())
            .body(body)
            .send()
            .await
            .map_err(|e| sdk_client_error(name, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = match read_body(response, resource).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge(error)) => return Err(error),
            Err(BodyError::Transport(e)) => return Err(sdk_client_error(name, &e)),
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if headers.contains_key("x-amz-function-error") {
            // No errorType (e.g. the runtime crashed): AWS names it Lambda.Unknown.
            let document: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let error = document
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("Lambda.Unknown")
                .to_owned();
            return Err(StatesError::new(ErrorName::parse(&error), text));
        }
        if !(200..300).contains(&status) {
            return Err(service_error(name, status, &headers, &text));
        }
        let payload = if text.is_empty() {
            Value::String(String::new())
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Invoked {
            status,
            payload,
            headers,
        })
    }
}

/// `NAME`, `NAME:QUALIFIER`, `ACCOUNT:function:NAME…` or a full ARN → (name, qualifier);
/// an explicit `Qualifier` parameter wins.
fn function_and_qualifier(function: &str, explicit: Option<&str>) -> (String, Option<String>) {
    let rest = match function.find("function:") {
        Some(at) => &function[at + "function:".len()..],
        None => function,
    };
    let (name, qualifier) = match rest.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier.to_owned())),
        None => (rest, None),
    };
    (name.to_owned(), explicit.map(str::to_owned).or(qualifier))
}

/// The endpoint could not be reached or failed mid-answer: the AWS SDK's client error.
fn sdk_client_error(function: &str, error: &reqwest::Error) -> StatesError {
    StatesError::new(
        ErrorName::Custom("Lambda.SdkClientException".into()),
        format!(
            "Unable to invoke the function '{function}': the Lambda endpoint {}",
            describe(error)
        ),
    )
}

/// The Invoke API refused the call (404 ResourceNotFoundException, 429 TooManyRequests…):
/// `Lambda.<ErrorCode>` with the service's message, as AWS's SDK integrations name it.
fn service_error(
    function: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    text: &str,
) -> StatesError {
    let document: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let code = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_owned())
        .or_else(|| {
            ["__type", "Type", "code"]
                .iter()
                .find_map(|k| document.get(*k).and_then(Value::as_str))
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
        })
        .unwrap_or_else(|| match status {
            404 => "ResourceNotFoundException".into(),
            429 => "TooManyRequestsException".into(),
            _ => "AWSLambdaException".into(),
        });
    let message = ["message", "Message", "errorMessage"]
        .iter()
        .find_map(|k| document.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("The function '{function}' could not be invoked"));
    let request_id = headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    StatesError::new(
        ErrorName::Custom(format!("Lambda.{code}")),
        format!(
            "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_qualifiers() {
        let f = |s, q| function_and_qualifier(s, q);
        assert_eq!(f("my-fn", None), ("my-fn".into(), None));
        assert_eq!(f("my-fn:prod", None), ("my-fn".into(), Some("prod".into())));
        assert_eq!(
            f("arn:aws:lambda:us-east-1:111111111111:function:my-fn", None),
            ("my-fn".into(), None)
        );
        assert_eq!(
            f(
                "arn:aws:lambda:us-east-1:111111111111:function:my-fn:7",
                Some("8")
            ),
            ("my-fn".into(), Some("8".into()))
        );
        assert_eq!(
            f("111111111111:function:my-fn", None),
            ("my-fn".into(), None)
        );
    }
}

//! The wire side of an AWS call: a Task's Parameters turned into the service's request
//! (JSON 1.0/1.1, query, rest-xml for S3, rest-json for Lambda) and its answer turned into
//! the result Step Functions gives, or into the service's error code and message.

use super::services::{Protocol, Service, LAMBDA, S3};
use super::xml;
use serde_json::{json, Map, Value};

/// A request ready to be signed and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: &'static str,
    /// Path (already percent-encoded) and query after the endpoint.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the service said when it refused the call.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFault {
    pub code: String,
    pub message: String,
}

/// A request that cannot be made from these Parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BadParameters(pub String);

/// Builds the request for `action` (PascalCase) with `parameters`.
pub fn build(
    service: &Service,
    action: &str,
    parameters: &Value,
) -> Result<Request, BadParameters> {
    match service.protocol {
        Protocol::Json { version, target } => {
            let body = if service.camel_case {
                rename_keys(parameters, lower_first)
            } else {
                parameters.clone()
            };
            let body = match body {
                Value::Null => json!({}),
                Value::Object(_) => body,
                _ => return Err(BadParameters("Parameters must be an object".into())),
            };
            Ok(Request {
                method: "POST",
                path_and_query: "/".into(),
                headers: vec![
                    (
                        "content-type".into(),
                        format!("application/x-amz-json-{version}"),
                    ),
                    ("x-amz-target".into(), format!("{target}.{action}")),
                ],
                body: serde_json::to_vec(&body).unwrap_or_default(),
            })
        }
        Protocol::Query { version } => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action);
            form.append_pair("Version", version);
            match parameters {
                Value::Object(fields) => {
                    for (name, value) in fields {
                        flatten_query(&mut form, name, name, value);
                    }
                }
                Value::Null => {}
                _ => return Err(BadParameters("Parameters must be an object".into())),
            }
            Ok(Request {
                method: "POST",
                path_and_query: "/".into(),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                )],
                body: form.finish().into_bytes(),
            })
        }
        Protocol::RestXml if service.sdk_name == S3.sdk_name => s3_request(action, parameters),
        Protocol::RestJson if service.sdk_name == LAMBDA.sdk_name => {
            lambda_request(action, parameters)
        }
        _ => Err(BadParameters(format!(
            "The service '{}' has no request builder",
            service.sdk_name
        ))),
    }
}

/// Query-protocol members: structures nest with `.`, lists are `.member.N`, and the two map
/// shapes SNS uses are `.entry.N.Name/Value` (MessageAttributes) and `.entry.N.key/value`.
fn flatten_query(
    form: &mut form_urlencoded::Serializer<String>,
    prefix: &str,
    member: &str,
    value: &Value,
) {
    match value {
        Value::Null => {}
        Value::Object(fields) if member == "MessageAttributes" || member == "Attributes" => {
            let (k, v) = if member == "MessageAttributes" {
                ("Name", "Value")
            } else {
                ("key", "value")
            };
            for (n, (name, inner)) in fields.iter().enumerate() {
                let entry = format!("{prefix}.entry.{}", n + 1);
                form.append_pair(&format!("{entry}.{k}"), name);
                flatten_query(form, &format!("{entry}.{v}"), v, inner);
            }
        }
        Value::Object(fields) => {
            for (name, inner) in fields {
                flatten_query(form, &format!("{prefix}.{name}"), name, inner);
            }
        }
        Value::Array(items) => {
            for (n, inner) in items.iter().enumerate() {
                flatten_query(form, &format!("{prefix}.member.{}", n + 1), "member", inner);
            }
        }
        Value::String(text) => {
            form.append_pair(prefix, text);
        }
        other => {
            form.append_pair(prefix, &other.to_string());
        }
    }
}

fn required<'a>(parameters: &'a Value, name: &str) -> Result<&'a str, BadParameters> {
    parameters.get(name).and_then(Value::as_str).ok_or_else(|| {
        BadParameters(format!(
            "The field '{name}' is required and must be a string"
        ))
    })
}

/// Text or JSON text: a Body or Payload given as JSON is sent as its JSON text.
fn bytes_of(value: Option<&Value>) -> Vec<u8> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => serde_json::to_vec(other).unwrap_or_default(),
    }
}

fn encode_segment(segment: &str) -> String {
    // RFC 3986 unreserved characters stay; everything else is percent-encoded (S3's rule).
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(segment, SET).to_string()
}

/// The S3 actions Quickstep speaks.
pub const S3_ACTIONS: &[&str] = &["GetObject", "PutObject", "ListObjectsV2"];

fn s3_request(action: &str, parameters: &Value) -> Result<Request, BadParameters> {
    let bucket = required(parameters, "Bucket")?;
    let object_path = |key: &str| {
        let key: Vec<String> = key.split('/').map(encode_segment).collect();
        format!("/{}/{}", encode_segment(bucket), key.join("/"))
    };
    match action {
        "GetObject" => {
            let key = required(parameters, "Key")?;
            let mut path = object_path(key);
            if let Some(version) = parameters.get("VersionId").and_then(Value::as_str) {
                path.push_str(&format!("?versionId={}", encode_segment(version)));
            }
            let mut headers = Vec::new();
            if let Some(range) = parameters.get("Range").and_then(Value::as_str) {
                headers.push(("range".into(), range.to_owned()));
            }
            Ok(Request {
                method: "GET",
                path_and_query: path,
                headers,
                body: Vec::new(),
            })
        }
        "PutObject" => {
            let key = required(parameters, "Key")?;
            let mut headers = Vec::new();
            if let Some(kind) = parameters.get("ContentType").and_then(Value::as_str) {
                headers.push(("content-type".into(), kind.to_owned()));
            }
            if let Some(Value::Object(metadata)) = parameters.get("Metadata") {
                for (name, value) in metadata {
                    let value = value
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or(value.to_string());
                    headers.push((format!("x-amz-meta-{}", name.to_ascii_lowercase()), value));
                }
            }
            Ok(Request {
                method: "PUT",
                path_and_query: object_path(key),
                headers,
                body: bytes_of(parameters.get("Body")),
            })
        }
        "ListObjectsV2" => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("list-type", "2");
            for (member, name) in [
                ("ContinuationToken", "continuation-token"),
                ("Delimiter", "delimiter"),
                ("MaxKeys", "max-keys"),
                ("Prefix", "prefix"),
                ("StartAfter", "start-after"),
            ] {
                match parameters.get(member) {
                    Some(Value::String(text)) => {
                        query.append_pair(name, text);
                    }
                    Some(Value::Number(n)) => {
                        query.append_pair(name, &n.to_string());
                    }
                    _ => {}
                }
            }
            Ok(Request {
                method: "GET",
                path_and_query: format!(
                    "/{}?{}",
                    encode_segment(bucket),
                    query.finish().replace('+', "%20")
                ),
                headers: Vec::new(),
                body: Vec::new(),
            })
        }
        other => Err(unsupported("s3", other, S3_ACTIONS)),
    }
}

/// The Lambda actions Quickstep speaks.
pub const LAMBDA_ACTIONS: &[&str] = &["Invoke"];

fn lambda_request(action: &str, parameters: &Value) -> Result<Request, BadParameters> {
    if action != "Invoke" {
        return Err(unsupported("lambda", action, LAMBDA_ACTIONS));
    }
    let function = required(parameters, "FunctionName")?;
    let mut path = format!(
        "/2015-03-31/functions/{}/invocations",
        encode_segment(function)
    );
    if let Some(qualifier) = parameters.get("Qualifier").and_then(Value::as_str) {
        path.push_str(&format!("?Qualifier={}", encode_segment(qualifier)));
    }
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    for (member, header) in [
        ("InvocationType", "x-amz-invocation-type"),
        ("LogType", "x-amz-log-type"),
        ("ClientContext", "x-amz-client-context"),
    ] {
        if let Some(value) = parameters.get(member).and_then(Value::as_str) {
            headers.push((header.to_owned(), value.to_owned()));
        }
    }
    let body = match parameters.get("Payload") {
        None | Some(Value::Null) => b"{}".to_vec(),
        payload => bytes_of(payload),
    };
    Ok(Request {
        method: "POST",
        path_and_query: path,
        headers,
        body,
    })
}

fn unsupported(service: &str, action: &str, known: &[&str]) -> BadParameters {
    let known: Vec<String> = known.iter().map(|a| lower_first(a)).collect();
    BadParameters(format!(
        "The action '{}' of '{service}' is not supported here; supported: {}",
        lower_first(action),
        known.join(", ")
    ))
}

/// A successful answer.
pub struct Answer<'a> {
    pub status: u16,
    pub headers: &'a reqwest::header::HeaderMap,
    pub body: &'a [u8],
}

impl Answer<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The result of a successful call, as the API response (PascalCase members).
pub fn result(service: &Service, action: &str, answer: &Answer<'_>) -> Result<Value, String> {
    match service.protocol {
        Protocol::Json { .. } => {
            if answer.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(json!({}));
            }
            let value: Value = serde_json::from_slice(answer.body)
                .map_err(|_| "the service answered something not JSON".to_owned())?;
            Ok(if service.camel_case {
                rename_keys(&value, upper_first)
            } else {
                value
            })
        }
        Protocol::Query { .. } => {
            let root = xml::parse(answer.body)?;
            Ok(match root.child(&format!("{action}Result")) {
                Some(result) if !result.children.is_empty() => xml::to_json(result),
                _ => json!({}),
            })
        }
        Protocol::RestXml => s3_result(action, answer),
        Protocol::RestJson => Ok(lambda_result(answer)),
    }
}

fn s3_result(action: &str, answer: &Answer<'_>) -> Result<Value, String> {
    let mut result = Map::new();
    let mut copy = |member: &str, header: &str, number: bool| {
        if let Some(value) = answer.header(header) {
            let value = match value.parse::<i64>() {
                Ok(n) if number => Value::from(n),
                _ => Value::String(value.to_owned()),
            };
            result.insert(member.to_owned(), value);
        }
    };
    match action {
        "ListObjectsV2" => return Ok(xml::to_json(&xml::parse(answer.body)?)),
        "GetObject" => {
            copy("AcceptRanges", "accept-ranges", false);
            copy("ContentLength", "content-length", true);
            copy("ContentType", "content-type", false);
            copy("ETag", "etag", false);
            copy("LastModified", "last-modified", false);
            copy("VersionId", "x-amz-version-id", false);
            let metadata: Map<String, Value> = answer
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    let name = name.as_str().strip_prefix("x-amz-meta-")?;
                    Some((name.to_owned(), value.to_str().ok()?.to_owned().into()))
                })
                .collect();
            result.insert("Metadata".into(), Value::Object(metadata));
            result.insert(
                "Body".into(),
                Value::String(String::from_utf8_lossy(answer.body).into_owned()),
            );
        }
        _ => {
            copy("ETag", "etag", false);
            copy("VersionId", "x-amz-version-id", false);
            copy(
                "ServerSideEncryption",
                "x-amz-server-side-encryption",
                false,
            );
        }
    }
    Ok(Value::Object(result))
}

fn lambda_result(answer: &Answer<'_>) -> Value {
    let mut result = Map::new();
    if let Some(version) = answer.header("x-amz-executed-version") {
        result.insert("ExecutedVersion".into(), version.into());
    }
    if let Some(error) = answer.header("x-amz-function-error") {
        result.insert("FunctionError".into(), error.into());
    }
    if let Some(log) = answer.header("x-amz-log-result") {
        result.insert("LogResult".into(), log.into());
    }
    // The SDK returns the payload as bytes; Step Functions renders them as a string.
    result.insert(
        "Payload".into(),
        String::from_utf8_lossy(answer.body).into_owned().into(),
    );
    result.insert("StatusCode".into(), answer.status.into());
    Value::Object(result)
}

/// The service's error code and message from a refused call, for every protocol: JSON
/// `__type` / `x-amzn-ErrorType`, XML `<Error><Code>`, else the HTTP status.
pub fn fault(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> ServiceFault {
    let header = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (code, message) = match serde_json::from_slice::<Value>(body) {
        Ok(document) => {
            let code = ["__type", "code", "Code"]
                .iter()
                .find_map(|k| document.get(*k).and_then(Value::as_str))
                .map(str::to_owned);
            let message = ["message", "Message", "errorMessage"]
                .iter()
                .find_map(|k| document.get(*k).and_then(Value::as_str))
                .map(str::to_owned);
            (header.or(code), message)
        }
        Err(_) => match xml::parse(body) {
            Ok(root) => {
                let error = if root.name == "Error" {
                    Some(&root)
                } else {
                    root.child("Error")
                        .or_else(|| root.at(&["Errors", "Error"]))
                };
                (
                    error.and_then(|e| e.text_of("Code")).map(str::to_owned),
                    error.and_then(|e| e.text_of("Message")).map(str::to_owned),
                )
            }
            Err(_) => (header, None),
        },
    };
    let code = code.map(|c| short_code(&c)).unwrap_or_else(|| {
        match status {
            400 => "BadRequest",
            403 => "AccessDenied",
            404 => "NotFound",
            429 => "TooManyRequests",
            _ => "InternalFailure",
        }
        .to_owned()
    });
    ServiceFault {
        message: message.unwrap_or_else(|| format!("The service answered HTTP {status}")),
        code,
    }
}

/// `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException` and
/// `Code:http://…` → the bare code.
fn short_code(code: &str) -> String {
    let code = code.rsplit('#').next().unwrap_or(code);
    code.split(':').next().unwrap_or(code).trim().to_owned()
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(super) fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn rename_keys(value: &Value, rename: fn(&str) -> String) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (rename(k), rename_keys(v, rename)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| rename_keys(v, rename)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;

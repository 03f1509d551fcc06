//! The HTTP Task (`arn:aws:states:::http:invoke`), as AWS's "Call HTTPS APIs" describes it:
//! `ApiEndpoint`, `Method`, `Headers`, `QueryParameters`, `RequestBody`, `Transform`
//! (`RequestBodyEncoding: URL_ENCODED` with `RequestEncodingOptions.ArrayFormat` BRACKETS,
//! COMMAS, INDICES (default) or REPEAT) and `Authentication.ConnectionArn`, which names a
//! connection in Quickstep's configuration (API key, basic, OAuth client credentials).
//!
//! The result is `{StatusCode, StatusText, Headers, ResponseBody}` (Headers: name → list of
//! values; the body parsed when the response says JSON). A status outside 2xx fails the task
//! with `States.Http.StatusCode.NNN` and that same object as JSON text for the cause; a
//! transport failure (refused, timed out) with `States.Http.Socket`. Secret values never
//! reach a result, an error or a log: they are replaced by `***` wherever they appear.

use super::config::{AuthConfig, ConnectionConfig, HttpConfig, Secret};
use super::{describe, http_trace, read_body, BodyError, RateLimits, TasksError};
use asl::{ErrorName, StatesError, TaskRequest};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The HTTP Task integration.
pub struct HttpTask {
    client: reqwest::Client,
    connections: HashMap<String, Connection>,
    /// Every secret value, for redaction.
    secrets: Vec<String>,
    limits: Arc<RateLimits>,
}

struct Connection {
    name: String,
    auth: Auth,
    headers: BTreeMap<String, String>,
    query: BTreeMap<String, String>,
}

enum Auth {
    ApiKey {
        header: String,
        value: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
    ClientCredentials {
        token_endpoint: String,
        client_id: String,
        client_secret: Secret,
        scope: Option<String>,
        cached: Mutex<Option<(Secret, Instant)>>,
    },
}

/// How an object body becomes a form.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ArrayFormat {
    Indices,
    Brackets,
    Commas,
    Repeat,
}

impl HttpTask {
    pub(crate) fn new(
        config: &HttpConfig,
        connections: &BTreeMap<String, ConnectionConfig>,
        limits: Arc<RateLimits>,
    ) -> Result<HttpTask, TasksError> {
        let mut secrets = Vec::new();
        let mut built = HashMap::new();
        for (name, connection) in connections {
            let read = |source: &super::config::SecretSource| {
                source
                    .read()
                    .map_err(|e| TasksError(format!("connection '{name}': {e}")))
            };
            let auth = match &connection.auth {
                AuthConfig::ApiKey { header, value } => Auth::ApiKey {
                    header: header.clone(),
                    value: read(value)?,
                },
                AuthConfig::Basic { username, password } => Auth::Basic {
                    username: username.clone(),
                    password: read(password)?,
                },
                AuthConfig::OauthClientCredentials {
                    token_endpoint,
                    client_id,
                    client_secret,
                    scope,
                } => Auth::ClientCredentials {
                    token_endpoint: token_endpoint.clone(),
                    client_id: client_id.clone(),
                    client_secret: read(client_secret)?,
                    scope: scope.clone(),
                    cached: Mutex::new(None),
                },
            };
            match &auth {
                Auth::ApiKey { value, .. } => secrets.push(value.expose().to_owned()),
                Auth::Basic { username, password } => {
                    secrets.push(password.expose().to_owned());
                    secrets.push(basic(username, password));
                }
                Auth::ClientCredentials { client_secret, .. } => {
                    secrets.push(client_secret.expose().to_owned())
                }
            }
            built.insert(
                name.clone(),
                Connection {
                    name: name.clone(),
                    auth,
                    headers: connection.headers.clone(),
                    query: connection.query.clone(),
                },
            );
        }
        // Short values would redact ordinary text; a secret that short is not one anyway.
        secrets.retain(|s| s.len() >= 4);
        Ok(HttpTask {
            client: super::client(config.connect_timeout_ms, Some(config.read_timeout_ms))?,
            connections: built,
            secrets,
            limits,
        })
    }

    pub(crate) async fn invoke(&self, request: &TaskRequest<'_>) -> Result<Value, StatesError> {
        let result = self.call(request).await;
        // Whatever happened, no secret leaves: not in the result, not in the cause.
        match result {
            Ok(mut value) => {
                self.redact_value(&mut value);
                Ok(value)
            }
            Err(mut error) => {
                if let Some(cause) = &error.cause {
                    error.cause = Some(self.redact(cause));
                }
                Err(error)
            }
        }
    }

    async fn call(&self, request: &TaskRequest<'_>) -> Result<Value, StatesError> {
        let input = &request.input;
        let endpoint = input
            .get("ApiEndpoint")
            .and_then(Value::as_str)
            .ok_or_else(|| StatesError::runtime("The field 'ApiEndpoint' is required"))?;
        let mut url = reqwest::Url::parse(endpoint).map_err(|e| {
            StatesError::runtime(format!("The ApiEndpoint '{endpoint}' is not a URL: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(StatesError::runtime(
                "The ApiEndpoint must be an http or https URL",
            ));
        }
        let method = input
            .get("Method")
            .and_then(Value::as_str)
            .ok_or_else(|| StatesError::runtime("The field 'Method' is required"))?;
        let method = match method.to_ascii_uppercase().as_str() {
            m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "HEAD") => {
                reqwest::Method::from_bytes(m.as_bytes()).expect("a valid method")
            }
            other => {
                return Err(StatesError::runtime(format!(
                "The Method '{other}' is not one of GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD"
            )))
            }
        };
        let connection = match input
            .get("Authentication")
            .or_else(|| input.get("InvocationConfig"))
            .and_then(|a| a.get("ConnectionArn"))
            .and_then(Value::as_str)
        {
            None => None,
            Some(arn) => {
                let name = connection_name(arn);
                Some(self.connections.get(name).ok_or_else(|| {
                    StatesError::new(
                        ErrorName::Custom("Events.ConnectionResource.ResourceNotFound".into()),
                        format!("No connection named '{name}' is configured"),
                    )
                })?)
            }
        };
        // What TestState shows of the URL unless it reveals secrets: without the
        // connection's query parameters.
        let mut public_url = url.clone();
        if let Some(query) = input.get("QueryParameters").and_then(Value::as_object) {
            let mut pairs = public_url.query_pairs_mut();
            for (k, v) in query {
                match v {
                    Value::Array(items) => items.iter().for_each(|item| {
                        pairs.append_pair(k, &scalar_text(item));
                    }),
                    other => {
                        pairs.append_pair(k, &scalar_text(other));
                    }
                }
            }
        }
        // Query: the connection's, then the call's.
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(connection) = connection {
                for (k, v) in &connection.query {
                    pairs.append_pair(k, v);
                }
            }
            if let Some(query) = input.get("QueryParameters") {
                let Value::Object(query) = query else {
                    return Err(StatesError::runtime("QueryParameters must be an object"));
                };
                for (k, v) in query {
                    match v {
                        Value::Array(items) => items.iter().for_each(|item| {
                            pairs.append_pair(k, &scalar_text(item));
                        }),
                        other => {
                            pairs.append_pair(k, &scalar_text(other));
                        }
                    }
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let target = format!(
            "http:{}{}",
            url.host_str().unwrap_or_default(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(given) = input.get("Headers") {
            let Value::Object(given) = given else {
                return Err(StatesError::runtime("Headers must be an object"));
            };
            for (name, value) in given {
                let text = match value {
                    Value::Array(items) => {
                        items.iter().map(scalar_text).collect::<Vec<_>>().join(",")
                    }
                    other => scalar_text(other),
                };
                insert_header(&mut headers, name, &text)?;
            }
        }
        if let Some(connection) = connection {
            for (name, value) in &connection.headers {
                if !headers.contains_key(name.as_str()) {
                    insert_header(&mut headers, name, value)?;
                }
            }
        }
        let (form, format) = transform(input.get("Transform"))?;
        let body = match input.get("RequestBody") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                Some((text.clone().into_bytes(), "text/plain; charset=UTF-8"))
            }
            Some(value) if form => Some((
                encode_form(value, format).into_bytes(),
                "application/x-www-form-urlencoded",
            )),
            Some(value) => Some((
                serde_json::to_vec(value).unwrap_or_default(),
                "application/json; charset=UTF-8",
            )),
        };
        let traced = http_trace::capturing();
        let request_line = traced.map(|reveal| {
            let shown = if reveal { &url } else { &public_url };
            let body = body
                .as_ref()
                .map(|(bytes, _)| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_default();
            (
                method.to_string(),
                shown.as_str().trim_end_matches('?').to_owned(),
                body,
                url.scheme().to_owned(),
            )
        });
        let mut builder = self.client.request(method, url);
        if let Some((bytes, content_type)) = body {
            if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
                headers.insert(
                    reqwest::header::CONTENT_TYPE,
                    reqwest::header::HeaderValue::from_static(content_type),
                );
            }
            builder = builder.body(bytes);
        }
        headers.insert(
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_static("Quickstep|HttpInvoke"),
        );
        insert_header(&mut headers, "traceparent", &super::trace::outgoing())?;
        if let Some(connection) = connection {
            self.authenticate(connection, &mut headers).await?;
        }
        if let (Some(reveal), Some((method, url, body, protocol))) = (traced, &request_line) {
            // Unless revealed, what the connection adds is left out and secrets redacted.
            let added: Vec<&str> = connection
                .map(|c| c.headers.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let shown = headers.iter().filter(|(name, value)| {
                reveal || !(value.is_sensitive() || added.contains(&name.as_str()))
            });
            let rendered = http_trace::render_headers(shown.map(|(n, v)| {
                (
                    n.as_str(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            }));
            let (url, rendered, body) = if reveal {
                (url.clone(), rendered, body.clone())
            } else {
                (self.redact(url), self.redact(&rendered), self.redact(body))
            };
            http_trace::record_request(protocol, method, &url, rendered, &body);
        }
        self.limits.wait(&target).await;
        let response = builder
            .headers(headers)
            .send()
            .await
            .map_err(|e| socket_error(&e))?;
        let status = response.status();
        let mut response_headers = Map::new();
        for (name, value) in response.headers() {
            let value = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
            match response_headers
                .entry(name.as_str().to_owned())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(values) => values.push(value),
                _ => unreachable!("inserted as an array"),
            }
        }
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let media = v
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                media == "application/json" || media.ends_with("+json")
            })
            .unwrap_or(false);
        let bytes = match read_body(response, request.resource).await {
            Ok(bytes) => bytes,
            Err(BodyError::TooLarge(error)) => return Err(error),
            Err(BodyError::Transport(e)) => return Err(socket_error(&e)),
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let (Some(reveal), Some((_, _, _, protocol))) = (traced, &request_line) {
            let rendered =
                http_trace::render_headers(response_headers.iter().flat_map(|(n, vs)| {
                    vs.as_array()
                        .into_iter()
                        .flatten()
                        .map(move |v| (n.as_str(), v.as_str().unwrap_or_default().to_owned()))
                }));
            let (rendered, body) = if reveal {
                (rendered, text.clone())
            } else {
                (self.redact(&rendered), self.redact(&text))
            };
            http_trace::record_response(
                protocol,
                status.as_u16(),
                status.canonical_reason().unwrap_or_default(),
                rendered,
                &body,
            );
        }
        let body = if is_json {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        } else {
            Value::String(text)
        };
        let result = json!({
            "Headers": response_headers,
            "ResponseBody": body,
            "StatusCode": status.as_u16(),
            "StatusText": status.canonical_reason().unwrap_or_default(),
        });
        if status.is_success() {
            Ok(result)
        } else {
            Err(StatesError::new(
                ErrorName::Custom(format!("States.Http.StatusCode.{}", status.as_u16())),
                result.to_string(),
            ))
        }
    }

    async fn authenticate(
        &self,
        connection: &Connection,
        headers: &mut reqwest::header::HeaderMap,
    ) -> Result<(), StatesError> {
        let value = match &connection.auth {
            Auth::ApiKey { header, value } => {
                return insert_secret(headers, header, value.expose());
            }
            Auth::Basic { username, password } => format!("Basic {}", basic(username, password)),
            Auth::ClientCredentials { .. } => {
                format!("Bearer {}", self.oauth_token(connection).await?.expose())
            }
        };
        insert_secret(headers, "authorization", &value)
    }

    /// The connection's bearer token: cached until a minute before it expires.
    async fn oauth_token(&self, connection: &Connection) -> Result<Secret, StatesError> {
        let Auth::ClientCredentials {
            token_endpoint,
            client_id,
            client_secret,
            scope,
            cached,
        } = &connection.auth
        else {
            unreachable!("called for OAuth connections only");
        };
        if let Some((token, until)) = cached.lock().expect("never poisoned").as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let failed = |why: String| {
            StatesError::new(
                ErrorName::Custom("Events.ConnectionResource.AuthorizationFailed".into()),
                format!(
                    "The OAuth token request of the connection '{}' failed: {why}",
                    connection.name
                ),
            )
        };
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if let Some(scope) = scope {
            form.push(("scope", scope.clone()));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .client
            .post(token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!("Basic {}", basic(client_id, client_secret)),
            )
            .header("traceparent", super::trace::outgoing())
            .body(body)
            .send()
            .await
            .map_err(|e| failed(describe(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("status {}", status.as_u16())));
        }
        let bytes = response.bytes().await.map_err(|e| failed(describe(&e)))?;
        let document: Value =
            serde_json::from_slice(&bytes).map_err(|_| failed("the answer is not JSON".into()))?;
        let token = document
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| failed("the answer has no access_token".into()))?;
        let lifetime = document
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        let token = Secret(token.to_owned());
        *cached.lock().expect("never poisoned") = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(lifetime.saturating_sub(60)),
        ));
        Ok(token)
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        for (_, connection) in self.connections.iter() {
            if let Auth::ClientCredentials { cached, .. } = &connection.auth {
                if let Some((token, _)) = cached.lock().expect("never poisoned").as_ref() {
                    if token.expose().len() >= 4 && text.contains(token.expose()) {
                        text = text.replace(token.expose(), "***");
                    }
                }
            }
        }
        text
    }

    fn redact_value(&self, value: &mut Value) {
        if self.secrets.is_empty() && self.connections.is_empty() {
            return;
        }
        match value {
            Value::String(text) => *text = self.redact(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_value(v)),
            _ => {}
        }
    }
}

fn basic(username: &str, password: &Secret) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()))
}

/// `arn:aws:events:REGION:ACCOUNT:connection/NAME/ID` → `NAME`; anything else as it is.
fn connection_name(arn: &str) -> &str {
    match arn.split_once(":connection/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest),
        None => arn,
    }
}

fn insert_header(
    headers: &mut reqwest::header::HeaderMap,
    name: &str,
    value: &str,
) -> Result<(), StatesError> {
    let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| StatesError::runtime(format!("'{name}' is not a valid header name")))?;
    let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
        StatesError::runtime(format!("The value of the header '{name}' is not valid"))
    })?;
    headers.insert(name, value);
    Ok(())
}

/// A header holding a secret: marked sensitive, and its errors never quote it.
fn insert_secret(
    headers: &mut reqwest::header::HeaderMap,
    name: &str,
    value: &str,
) -> Result<(), StatesError> {
    let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| StatesError::runtime(format!("'{name}' is not a valid header name")))?;
    let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
        StatesError::runtime(format!(
            "The connection's value for the header '{name}' is not a valid header value"
        ))
    })?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(())
}

fn socket_error(error: &reqwest::Error) -> StatesError {
    StatesError::new(
        ErrorName::Custom("States.Http.Socket".into()),
        format!("The HTTP request {}", describe(error)),
    )
}

fn transform(transform: Option<&Value>) -> Result<(bool, ArrayFormat), StatesError> {
    let Some(transform) = transform else {
        return Ok((false, ArrayFormat::Indices));
    };
    let form = match transform.get("RequestBodyEncoding").and_then(Value::as_str) {
        None | Some("NONE") => false,
        Some("URL_ENCODED") => true,
        Some(other) => {
            return Err(StatesError::runtime(format!(
                "RequestBodyEncoding must be NONE or URL_ENCODED, not '{other}'"
            )))
        }
    };
    let format = match transform
        .get("RequestEncodingOptions")
        .and_then(|o| o.get("ArrayFormat"))
        .and_then(Value::as_str)
    {
        None | Some("INDICES") => ArrayFormat::Indices,
        Some("BRACKETS") => ArrayFormat::Brackets,
        Some("COMMAS" | "COMMA") => ArrayFormat::Commas,
        Some("REPEAT") => ArrayFormat::Repeat,
        Some(other) => {
            return Err(StatesError::runtime(format!(
                "ArrayFormat must be BRACKETS, COMMAS, INDICES or REPEAT, not '{other}'"
            )))
        }
    };
    Ok((form, format))
}

/// A JSON value as a form or query value: strings as they are, null as empty, objects and
/// arrays as JSON text.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `{"a": [1, 2], "b": {"c": "d"}}` → `a[0]=1&a[1]=2&b[c]=d` (INDICES), `a[]=1&a[]=2`
/// (BRACKETS), `a=1,2` (COMMAS), `a=1&a=2` (REPEAT).
fn encode_form(value: &Value, format: ArrayFormat) -> String {
    fn walk(prefix: &str, value: &Value, format: ArrayFormat, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}[{k}]")
                    };
                    walk(&key, v, format, out);
                }
            }
            Value::Array(items) if !prefix.is_empty() => match format {
                ArrayFormat::Commas => out.push((
                    prefix.to_owned(),
                    items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
                )),
                _ => {
                    for (i, item) in items.iter().enumerate() {
                        let key = match format {
                            ArrayFormat::Indices => format!("{prefix}[{i}]"),
                            ArrayFormat::Brackets => format!("{prefix}[]"),
                            _ => prefix.to_owned(),
                        };
                        walk(&key, item, format, out);
                    }
                }
            },
            other => out.push((prefix.to_owned(), scalar_text(other))),
        }
    }
    let mut pairs = Vec::new();
    walk("", value, format, &mut pairs);
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_formats() {
        let body = json!({"array": ["a", "b"], "n": 1, "o": {"k": "v w"}});
        assert_eq!(
            encode_form(&body, ArrayFormat::Indices),
            "array%5B0%5D=a&array%5B1%5D=b&n=1&o%5Bk%5D=v+w"
        );
        assert_eq!(
            encode_form(&body, ArrayFormat::Brackets),
            "array%5B%5D=a&array%5B%5D=b&n=1&o%5Bk%5D=v+w"
        );
        assert_eq!(
            encode_form(&body, ArrayFormat::Commas),
            "array=a%2Cb&n=1&o%5Bk%5D=v+w"
        );
        assert_eq!(
            encode_form(&body, ArrayFormat::Repeat),
            "array=a&array=b&n=1&o%5Bk%5D=v+w"
        );
    }

    #[test]
    fn connection_names() {
        assert_eq!(
            connection_name("arn:aws:events:us-east-1:111111111111:connection/github/0c4f"),
            "github"
        );
        assert_eq!(connection_name("github"), "github");
    }
}

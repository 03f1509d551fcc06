//! AWS Signature Version 4 verification against configured access keys: the AWS SDK's own
//! signer (`aws-sigv4`) signs the request as received with the key's secret (any region and
//! service in the scope are accepted; the scope is part of what is signed), and the result is
//! compared with the client's in constant time. Only the `Authorization` header is parsed
//! here (the crate signs; it has no parser). Requests more than 15 minutes from the
//! gateway's clock are refused, as at AWS.

use crate::protocol::ApiError;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use axum::http::{HeaderMap, Method, Uri};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq;

/// How far a request's `X-Amz-Date` may be from the gateway's clock.
const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// AWS's message when the signature does not match.
const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, PartialEq)]
struct Authorization<'a> {
    access_key: &'a str,
    scope: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, ApiError> {
    let incomplete = |why: &str| {
        ApiError::IncompleteSignature(format!(
            "Authorization header requires {why}. Authorization={header}"
        ))
    };
    let rest = header
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| incomplete("the AWS4-HMAC-SHA256 algorithm"))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| incomplete("'Credential' parameter"))?;
    let signed = signed.ok_or_else(|| incomplete("'SignedHeaders' parameter"))?;
    let signature = signature.ok_or_else(|| incomplete("'Signature' parameter"))?;
    let (access_key, scope) = credential.split_once('/').ok_or_else(|| {
        incomplete("a Credential of the form KEY/DATE/REGION/SERVICE/aws4_request")
    })?;
    if scope.split('/').count() != 4 || !scope.ends_with("/aws4_request") {
        return Err(incomplete(
            "a Credential of the form KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    }
    Ok(Authorization {
        access_key,
        scope,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// Checks a request's SigV4 signature against `keys` (access key id → secret).
pub fn verify(
    keys: &BTreeMap<String, String>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let now = crate::state_machines::now_ms() / 1000;
    verify_at(keys, now, method, uri, headers, body)
}

/// `verify` at `now` (epoch seconds): the clock is a parameter so AWS's dated examples test.
fn verify_at(
    keys: &BTreeMap<String, String>,
    now: i64,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let header = headers
        .get("authorization")
        .ok_or_else(|| ApiError::MissingAuthenticationToken("Missing Authentication Token".into()))?
        .to_str()
        .map_err(|_| {
            ApiError::IncompleteSignature("The Authorization header is not text".into())
        })?;
    let auth = parse_authorization(header)?;
    let secret = keys.get(auth.access_key).ok_or_else(|| {
        ApiError::UnrecognizedClient(
            "The security token included in the request is invalid.".into(),
        )
    })?;
    let date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::IncompleteSignature("Authorization requires the X-Amz-Date header".into())
        })?;
    let signed_at = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| ApiError::IncompleteSignature(format!("Invalid X-Amz-Date: '{date}'")))?
        .and_utc()
        .timestamp();
    let signed_at_time =
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(signed_at).map_err(|_| {
                ApiError::IncompleteSignature(format!("Invalid X-Amz-Date: '{date}'"))
            })?);
    if (now - signed_at).abs() > MAX_SKEW_SECONDS {
        return Err(ApiError::InvalidSignature(expired(date, signed_at, now)));
    }
    if !auth.scope.starts_with(&date[..8]) {
        return Err(ApiError::InvalidSignature(
            "The credential scope's date does not match X-Amz-Date".into(),
        ));
    }
    if !auth.signed_headers.contains(&"host") {
        return Err(ApiError::InvalidSignature(
            "The host header must be signed".into(),
        ));
    }
    let signed_at = signed_at_time;
    let expected = expected_signature(&auth, secret, signed_at, method, uri, headers, body)?;
    // Constant time: how much of a guess matches must not show in the answer's timing.
    let matches: bool = expected.as_bytes().ct_eq(auth.signature.as_bytes()).into();
    if !matches {
        return Err(ApiError::InvalidSignature(SIGNATURE_MISMATCH.into()));
    }
    Ok(())
}

/// The signature the AWS SDK's own signer (`aws-sigv4`) computes for the request as
/// received: its method, path and query, the headers the client says it signed, and the
/// body's SHA-256, under the client's region and service, at its `X-Amz-Date`.
fn expected_signature(
    auth: &Authorization<'_>,
    secret: &str,
    signed_at: SystemTime,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, ApiError> {
    let mut scope = auth.scope.split('/');
    let (_date, region, service) = (scope.next(), scope.next(), scope.next());
    let (Some(region), Some(service)) = (region, service) else {
        return Err(incomplete_credential(auth.scope));
    };
    let mut signed = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let mut values = headers.get_all(*name).iter().peekable();
        if values.peek().is_none() {
            return Err(ApiError::InvalidSignature(format!(
                "{SIGNATURE_MISMATCH} (signed header '{name}' is missing)"
            )));
        }
        for value in values {
            let value = value.to_str().map_err(|_| {
                ApiError::InvalidSignature(format!(
                    "{SIGNATURE_MISMATCH} (signed header '{name}' is not text)"
                ))
            })?;
            signed.push((*name, value));
        }
    }
    let identity: Identity =
        Credentials::new(auth.access_key, secret, None, None, "gateway").into();
    let mut settings = SigningSettings::default();
    // Sign exactly what the client listed: the default exclusions (user-agent, …) would
    // drop a header the client signed.
    settings.excluded_headers = None;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|e| ApiError::IncompleteSignature(format!("Cannot verify the signature: {e}")))?
        .into();
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = SignableRequest::new(
        method.as_str(),
        path_and_query,
        signed.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| ApiError::InvalidSignature(format!("{SIGNATURE_MISMATCH} ({e})")))?;
    let output = sign(request, &params)
        .map_err(|e| ApiError::InvalidSignature(format!("{SIGNATURE_MISMATCH} ({e})")))?;
    Ok(output.signature().to_owned())
}

/// AWS's words for a date outside the window, e.g. "Signature expired: 20140325T143453Z is
/// now earlier than 20140325T143751Z (20140325T145251Z - 15 min.)".
fn expired(date: &str, signed_at: i64, now: i64) -> String {
    let stamp = |seconds: i64| {
        chrono::DateTime::from_timestamp(seconds, 0)
            .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
            .unwrap_or_default()
    };
    if signed_at < now {
        format!(
            "Signature expired: {date} is now earlier than {} ({} - 15 min.)",
            stamp(now - MAX_SKEW_SECONDS),
            stamp(now)
        )
    } else {
        format!(
            "Signature not yet current: {date} is still later than {} ({} + 15 min.)",
            stamp(now + MAX_SKEW_SECONDS),
            stamp(now)
        )
    }
}

fn incomplete_credential(scope: &str) -> ApiError {
    ApiError::IncompleteSignature(format!(
        "Authorization header requires a Credential of the form KEY/DATE/REGION/SERVICE/aws4_request, not '{scope}'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers_parse() {
        let auth = parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7").expect("parses");
        assert_eq!(auth.access_key, "AKID");
        assert_eq!(auth.scope, "20150830/us-east-1/iam/aws4_request");
        assert_eq!(
            auth.signed_headers,
            vec!["content-type", "host", "x-amz-date"]
        );
        assert!(parse_authorization("Basic abc").is_err());
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=AKID").is_err());
    }

    /// AWS's documented example (IAM ListUsers, "Create a signed AWS API request"): the
    /// request as sent verifies at its date, and not with another secret or another query.
    #[test]
    fn aws_documented_example_verifies() {
        let keys = BTreeMap::from([(
            "AKIDEXAMPLE".to_string(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_string(),
        )]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        headers.insert("host", "iam.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7".parse().unwrap());
        let uri: Uri = "/?Action=ListUsers&Version=2010-05-08".parse().unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2015-08-30T12:40:00Z")
            .unwrap()
            .timestamp();
        verify_at(&keys, at, &Method::GET, &uri, &headers, b"").expect("AWS's example verifies");
        let other: Uri = "/?Action=ListUsers&Version=2010-05-09".parse().unwrap();
        assert!(matches!(
            verify_at(&keys, at, &Method::GET, &other, &headers, b""),
            Err(ApiError::InvalidSignature(_))
        ));
        let wrong = BTreeMap::from([("AKIDEXAMPLE".to_string(), "x".to_string())]);
        assert!(matches!(
            verify_at(&wrong, at, &Method::GET, &uri, &headers, b""),
            Err(ApiError::InvalidSignature(_))
        ));
        let stale = verify_at(&keys, at + 16 * 60, &Method::GET, &uri, &headers, b"");
        assert_eq!(
            stale,
            Err(ApiError::InvalidSignature("Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T125600Z - 15 min.)".into()))
        );
        let early = verify_at(&keys, at - 20 * 60, &Method::GET, &uri, &headers, b"");
        assert!(
            matches!(&early, Err(ApiError::InvalidSignature(m)) if m.starts_with("Signature not yet current")),
            "{early:?}"
        );
        let unknown = BTreeMap::from([("OTHER".to_string(), "x".to_string())]);
        assert!(matches!(
            verify_at(&unknown, at, &Method::GET, &uri, &headers, b""),
            Err(ApiError::UnrecognizedClient(_))
        ));
    }
}

//! AWS Signature Version 4 verification against configured access keys: the gateway
//! rebuilds the canonical request from what it received (any region and service in the
//! scope are accepted; the scope is part of what is signed), derives the signing key from
//! the secret, and compares signatures in constant time. Requests older or newer than 15
//! minutes are refused, as at AWS.

use crate::protocol::ApiError;
use axum::http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// How far a request's `X-Amz-Date` may be from the gateway's clock.
const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SigV4's URI encoding: everything but unreserved characters, `/` kept when `path`.
fn encode(text: &str, path: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b'/' if path => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn decode(text: &str, query: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let byte = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = byte {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(if query && bytes[i] == b'+' {
            b' '
        } else {
            bytes[i]
        });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

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

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                encode(&decode(k, true), false),
                encode(&decode(v, true), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_headers(headers: &HeaderMap, signed: &[&str]) -> Result<String, ApiError> {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if values.is_empty() {
            return Err(ApiError::InvalidSignature(format!(
                "The request signature we calculated does not match the signature you provided: signed header '{name}' is missing"
            )));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// Checks a request's SigV4 signature against `keys` (access key id → secret).
pub fn verify(
    keys: &BTreeMap<String, String>,
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
    let now = crate::state_machines::now_ms() / 1000;
    if (now - signed_at).abs() > MAX_SKEW_SECONDS {
        return Err(ApiError::InvalidSignature(format!(
            "Signature expired: {date} is more than 15 minutes from the server's time"
        )));
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
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.as_str(),
        encode(&decode(uri.path(), false), true),
        canonical_query(uri.query().unwrap_or_default()),
        canonical_headers(headers, &auth.signed_headers)?,
        auth.signed_headers.join(";"),
        hex(&Sha256::digest(body)),
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{}\n{}",
        auth.scope,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in auth.scope.split('/') {
        key = hmac_sha256(&key, part.as_bytes()).to_vec();
    }
    let expected = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    let matches = expected.len() == auth.signature.len()
        && expected
            .bytes()
            .zip(auth.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !matches {
        return Err(ApiError::InvalidSignature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

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

    /// AWS's documented example (IAM ListUsers, "Create a signature"): same secret,
    /// scope and canonical request give the documented signature.
    #[test]
    fn signing_key_matches_aws_example() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let mut key = format!("AWS4{secret}").into_bytes();
        for part in ["20150830", "us-east-1", "iam", "aws4_request"] {
            key = hmac_sha256(&key, part.as_bytes()).to_vec();
        }
        let to_sign = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59";
        assert_eq!(
            hex(&hmac_sha256(&key, to_sign.as_bytes())),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn query_strings_canonicalize() {
        assert_eq!(canonical_query("b=2&a=1%2F"), "a=1%2F&b=2");
        assert_eq!(encode("/a b", true), "/a%20b");
    }
}

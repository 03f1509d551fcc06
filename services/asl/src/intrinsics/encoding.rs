//! Encodings and digests: `States.Base64Encode`, `States.Base64Decode`, `States.Hash`
//! (whose digests JSONata's `$hash` shares).

use super::args::{check_text_limit, want_str};
use super::{Call, IntrinsicEnv};
use crate::error::StatesError;
use base64::Engine as _;
use serde_json::Value;

pub(super) fn base64_encode(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the argument")?;
    check_text_limit(call, text)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
    ))
}

pub(super) fn base64_decode(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the argument")?;
    check_text_limit(call, text)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| call.fail(format!("the argument is not valid Base64: {e}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| call.fail("the decoded data is not UTF-8 text"))
}

pub(super) fn hash(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the data")?;
    let algorithm = want_str(call, &args[1], "the algorithm")?;
    check_text_limit(call, text)?;
    hex_digest(algorithm, text.as_bytes())
        .map(Value::String)
        .ok_or_else(|| {
            call.fail(format!(
                "unknown algorithm '{algorithm}'; use {HASH_ALGORITHMS}"
            ))
        })
}

/// The algorithms `States.Hash` and JSONata's `$hash` accept, as their errors list them.
pub(crate) const HASH_ALGORITHMS: &str = "MD5, SHA-1, SHA-256, SHA-384 or SHA-512";

/// The lower-case hex digest of `bytes`, or `None` for an algorithm AWS does not offer.
pub(crate) fn hex_digest(algorithm: &str, bytes: &[u8]) -> Option<String> {
    use sha2::Digest as _;
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        _ => return None,
    };
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

//! Argument helpers shared by the functions: type checks with AWS's messages, Java string
//! lengths, the text-size limit, and the identity used for equality and uniqueness.

use super::{Call, MAX_TEXT_CHARS};
use crate::error::StatesError;
use serde_json::Value;

pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(super) fn want_str<'v>(
    call: &Call,
    value: &'v Value,
    what: &str,
) -> Result<&'v str, StatesError> {
    value
        .as_str()
        .ok_or_else(|| call.fail(format!("{what} must be a string, not {}", type_name(value))))
}

pub(super) fn want_array<'v>(
    call: &Call,
    value: &'v Value,
    what: &str,
) -> Result<&'v Vec<Value>, StatesError> {
    value
        .as_array()
        .ok_or_else(|| call.fail(format!("{what} must be an array, not {}", type_name(value))))
}

/// An integer argument. Where the AWS page says "Step Functions will round it off to the
/// nearest integer" we round as Java's `Math.round` does (halves towards +∞), since AWS runs
/// on Java; elsewhere a fraction is an error.
pub(super) fn want_int(
    call: &Call,
    value: &Value,
    what: &str,
    round: bool,
) -> Result<i64, StatesError> {
    let not_int = || call.fail(format!("{what} must be an integer, not {value}"));
    let Value::Number(n) = value else {
        return Err(call.fail(format!(
            "{what} must be an integer, not {}",
            type_name(value)
        )));
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let f = n.as_f64().ok_or_else(not_int)?;
    let f = if round { (f + 0.5).floor() } else { f };
    // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
    if f.fract() != 0.0 || !f.is_finite() || f < i64::MIN as f64 || f >= i64::MAX as f64 {
        return Err(not_int());
    }
    Ok(f as i64)
}

/// Java's `String.length()`: UTF-16 code units, which is how AWS counts "characters".
pub(super) fn java_len(text: &str) -> usize {
    text.encode_utf16().count()
}

pub(super) fn check_text_limit(call: &Call, text: &str) -> Result<(), StatesError> {
    let len = java_len(text);
    if len > MAX_TEXT_CHARS {
        return Err(call.fail(format!(
            "the input is {len} characters, more than the {MAX_TEXT_CHARS} allowed"
        )));
    }
    Ok(())
}

/// A key equal for equal JSON values: numbers by value (1 == 1.0), objects regardless of key
/// order. Used by `ArrayContains` and `ArrayUnique`.
pub(super) fn identity(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e18 => {
                out.push_str(&(f as i64).to_string())
            }
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for item in items {
                identity(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for key in keys {
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                identity(&map[key], out);
                out.push(',');
            }
            out.push('}');
        }
        other => {
            use std::fmt::Write as _;
            // Numbers, booleans and null as JSON; writing to a String cannot fail.
            let _ = write!(out, "{other}");
        }
    }
}

pub(super) fn identity_of(value: &Value) -> String {
    let mut out = String::new();
    identity(value, &mut out);
    out
}

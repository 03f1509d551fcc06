//! Strings and JSON text: `States.Format`, `States.StringToJson`, `States.JsonToString`,
//! `States.JsonMerge` and `States.StringSplit`.

use super::args::want_str;
use super::{Call, IntrinsicEnv};
use crate::error::StatesError;
use serde_json::Value;

pub(super) fn format(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let values = &args[1..];
    match &call.template {
        Some(pieces) => fill(call, pieces.iter().map(String::as_str), values),
        // A template read from a path has no escapes: every `{}` is a placeholder.
        None => fill(
            call,
            want_str(call, &args[0], "the template")?.split("{}"),
            values,
        ),
    }
}

/// The template's pieces with the values between them.
pub(super) fn fill<'p>(
    call: &Call,
    pieces: impl Iterator<Item = &'p str> + Clone,
    values: &[Value],
) -> Result<Value, StatesError> {
    let (count, text) = pieces.clone().fold((0, 0), |(count, text), piece| {
        (count + 1, text + piece.len())
    });
    if count - 1 != values.len() {
        return Err(call.fail(format!(
            "the template has {} placeholder(s) but {} value argument(s) were given",
            count - 1,
            values.len()
        )));
    }
    let mut out = String::with_capacity(text + 16 * values.len());
    let mut pieces = pieces;
    out.push_str(pieces.next().unwrap_or_default());
    for (value, piece) in values.iter().zip(pieces) {
        java_string(value, &mut out);
        out.push_str(piece);
    }
    Ok(Value::String(out))
}

/// How AWS's Java runtime renders a value into `States.Format`: strings raw, numbers, booleans
/// and null as JSON, arrays and objects as Java's `List`/`Map` `toString`:
/// `{Arg1=1, Arg2=[]}` (LocalStack reproduces this from recorded AWS responses).
pub(super) fn java_string(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                java_string(item, out);
            }
            out.push('}');
        }
        // Integers are the common case (ids, counts): written without the `fmt` machinery,
        // which cost as much as the rest of a one-placeholder `States.Format`.
        Value::Number(n) if n.is_u64() || n.is_i64() => {
            let mut digits = itoa::Buffer::new();
            match n.as_u64() {
                Some(u) => out.push_str(digits.format(u)),
                None => out.push_str(digits.format(n.as_i64().unwrap_or_default())),
            }
        }
        other => {
            use std::fmt::Write as _;
            // Other numbers, booleans and null as JSON; writing to a String cannot fail.
            let _ = write!(out, "{other}");
        }
    }
}

pub(super) fn string_to_json(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the argument")?;
    // Blank text gives null, as LocalStack (validated against AWS) does.
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text)
        .map_err(|e| call.fail(format!("the argument is not valid JSON: {e}")))
}

pub(super) fn json_to_string(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    // Compact, keys in input order (the workspace enables serde_json's preserve_order).
    serde_json::to_string(&args[0])
        .map(Value::String)
        .map_err(|e| call.fail(e))
}

pub(super) fn json_merge(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let mut args = args.into_iter();
    let (first, second, deep) = (args.next(), args.next(), args.next());
    let (Some(Value::Object(mut merged)), Some(Value::Object(second))) = (first, second) else {
        return Err(call.fail("the first two arguments must be JSON objects"));
    };
    match deep {
        Some(Value::Bool(false)) => {}
        // "Currently, Step Functions only supports the shallow merging mode; therefore, you
        // must specify the boolean value as false" (the AWS page).
        Some(Value::Bool(true)) => {
            return Err(call.fail("deep merging is not supported; the third argument must be false"))
        }
        _ => return Err(call.fail("the third argument must be the boolean false")),
    }
    // Shallow: the second object's keys replace the first's, nested objects are not merged.
    for (key, value) in second {
        merged.insert(key, value);
    }
    Ok(Value::Object(merged))
}

/// Splits on any of the delimiter characters and drops empty strings, as Java's
/// `StringTokenizer` does (the AWS page's example splits `"This.is+a,test=string"` on `".+,="`).
pub(super) fn string_split(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the first argument")?;
    let delimiters = want_str(call, &args[1], "the delimiters")?;
    let parts = text
        .split(|c: char| delimiters.contains(c))
        .filter(|part| !part.is_empty())
        .map(|part| Value::String(part.to_owned()))
        .collect();
    Ok(Value::Array(parts))
}

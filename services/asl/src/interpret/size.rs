//! Payload sizes: the serialized size of a value without building its text, and the cheap
//! upper bound that settles most limit checks (`fits`).

use serde_json::Value;

/// Whether a value's serialized size is at most `limit` bytes. Most payloads are far below
/// the limits, and a bound on the size costs a walk without formatting a number or
/// scanning a string for escapes — serializing each Pass result to count its bytes was a
/// twentieth of the order machine's time. Only a bound above the limit is checked exactly.
#[inline]
pub(crate) fn fits(value: &Value, limit: usize) -> bool {
    size_bound(value) <= limit || json_size(value) <= limit
}

/// An upper bound on `json_size`: a string's byte escaped as `\u00XX` takes 6 characters,
/// a number at most 24 (`-1.7976931348623157e308`).
pub(crate) fn size_bound(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().fold(2 + items.len(), |sum, item| {
            sum.saturating_add(member_bound(item))
        }),
        Value::Object(map) => map.iter().fold(2 + 2 * map.len(), |sum, (key, item)| {
            sum.saturating_add(string_bound(key))
                .saturating_add(member_bound(item))
        }),
        scalar => member_bound(scalar),
    }
}

/// `size_bound` of a member, without a call for the scalars most members are.
#[inline]
pub(crate) fn member_bound(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 24,
        Value::String(s) => string_bound(s),
        container => size_bound(container),
    }
}

pub(crate) fn string_bound(s: &str) -> usize {
    2 + 6 * s.len()
}

/// The compact JSON text of a value (an execution's output, as results carry it), keys in
/// their order. Through `serde_json::to_string`, which writes into one buffer: `Value`'s
/// `Display` hands the formatter one small piece at a time, several times slower.
pub fn json_text(value: &Value) -> String {
    // Cannot fail: a `Value`'s keys are strings and its numbers finite.
    serde_json::to_string(value).unwrap_or_default()
}

/// The serialized size of a value, without building the text.
pub(crate) fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).expect("writing to a counter cannot fail");
    counter.0
}

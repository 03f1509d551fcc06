//! The two well-known types the schema uses, with canonical proto3 JSON.
//!
//! `pbjson-types` renders a `Timestamp` with a `+00:00` offset and a `Struct`'s integers as
//! floats (`3.0`) in hash order. These types keep the wire format of `google.protobuf.Timestamp`
//! and `google.protobuf.Struct` byte for byte, and render JSON the way the proto3 JSON mapping
//! prints it: `"2024-05-01T12:00:00.123Z"`, and objects whose integers stay integers and whose
//! keys keep their order.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};
use prost::DecodeError;
use serde_json::{Map, Number, Value};

/// `google.protobuf.Timestamp`: a point in time, UTC. In proto3 JSON an RFC 3339 string with a
/// `Z` and 0, 3, 6 or 9 fractional digits; any RFC 3339 offset is accepted on input.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Non-negative fractions of a second, 0 to 999,999,999.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    /// The timestamp `millis` milliseconds after the Unix epoch (negative: before it).
    pub fn from_unix_millis(millis: i64) -> Self {
        Timestamp {
            seconds: millis.div_euclid(1000),
            nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
        }
    }

    /// Milliseconds since the Unix epoch, truncated toward the past.
    pub fn unix_millis(&self) -> i64 {
        self.seconds * 1000 + i64::from(self.nanos).div_euclid(1_000_000)
    }

    fn to_datetime(self) -> Option<DateTime<Utc>> {
        let nanos = u32::try_from(self.nanos)
            .ok()
            .filter(|n| *n < 1_000_000_000)?;
        DateTime::from_timestamp(self.seconds, nanos)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp {
                seconds: after.as_secs() as i64,
                nanos: after.subsec_nanos() as i32,
            },
            Err(before) => {
                let before = before.duration();
                let whole = Timestamp {
                    seconds: -(before.as_secs() as i64),
                    nanos: 0,
                };
                match before.subsec_nanos() {
                    0 => whole,
                    n => Timestamp {
                        seconds: whole.seconds - 1,
                        nanos: (1_000_000_000 - n) as i32,
                    },
                }
            }
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(ts: Timestamp) -> Self {
        let nanos = Duration::from_nanos(ts.nanos.clamp(0, 999_999_999) as u64);
        if ts.seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(ts.seconds as u64) + nanos
        } else {
            UNIX_EPOCH - Duration::from_secs(ts.seconds.unsigned_abs()) + nanos
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0; RFC3339_MAX];
        let len = self.write_rfc3339(&mut text).ok_or_else(|| {
            serde::ser::Error::custom("google.protobuf.Timestamp out of range (years 1–9999)")
        })?;
        serializer
            .serialize_str(std::str::from_utf8(&text[..len]).map_err(serde::ser::Error::custom)?)
    }
}

/// The longest proto3 JSON timestamp: `9999-12-31T23:59:59.999999999Z`.
const RFC3339_MAX: usize = 30;

impl Timestamp {
    /// Writes the proto3 JSON form — RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits —
    /// and returns its length; `None` outside years 1–9999 (the range proto3 allows) or
    /// for nanos outside `0..1e9`. chrono's `to_rfc3339_opts(AutoSi, true)` writes the same
    /// text (a test holds them to it) through its generic formatter into a new String, 700
    /// instructions a timestamp; every result record has two. chrono still does the
    /// calendar.
    fn write_rfc3339(self, out: &mut [u8; RFC3339_MAX]) -> Option<usize> {
        use chrono::{Datelike as _, Timelike as _};
        let time = self.to_datetime()?;
        let year = u32::try_from(time.year())
            .ok()
            .filter(|y| (1..=9999).contains(y))?;
        let seconds = time.num_seconds_from_midnight();
        let fields = [
            (year, 4, b'-'),
            (time.month(), 2, b'-'),
            (time.day(), 2, b'T'),
            (seconds / 3600, 2, b':'),
            (seconds / 60 % 60, 2, b':'),
            (seconds % 60, 2, b'.'),
        ];
        let mut at = 0;
        for (value, width, separator) in fields {
            write_digits(&mut out[at..at + width], value);
            out[at + width] = separator;
            at += width + 1;
        }
        // The '.' after the seconds stays only when there is a fraction.
        let nanos = time.timestamp_subsec_nanos();
        let (fraction, width) = match nanos {
            0 => (0, 0),
            n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
            n if n % 1_000 == 0 => (n / 1_000, 6),
            n => (n, 9),
        };
        if width == 0 {
            at -= 1;
        } else {
            write_digits(&mut out[at..at + width], fraction);
            at += width;
        }
        out[at] = b'Z';
        Some(at + 1)
    }
}

/// `value` in decimal, zero-padded to fill `out`.
fn write_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let time = DateTime::parse_from_rfc3339(&text).map_err(|e| {
            serde::de::Error::custom(format!("invalid RFC 3339 timestamp {text:?}: {e}"))
        })?;
        let time = time.with_timezone(&Utc);
        Ok(Timestamp {
            seconds: time.timestamp(),
            nanos: time.timestamp_subsec_nanos() as i32,
        })
    }
}

/// `google.protobuf.Struct`: a JSON object. In proto3 JSON it is the object itself.
///
/// The fields keep their insertion order (JSON and binary). On the binary wire numbers are
/// doubles, as the well-known type defines them: an integral value up to 2^53 comes back as an
/// integer, a larger integer loses precision, and a NaN or infinity (which JSON cannot hold)
/// decodes as `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Struct {
    /// The object's members.
    pub fields: Map<String, Value>,
}

impl From<Map<String, Value>> for Struct {
    fn from(fields: Map<String, Value>) -> Self {
        Struct { fields }
    }
}

impl From<Struct> for Map<String, Value> {
    fn from(object: Struct) -> Self {
        object.fields
    }
}

impl TryFrom<Value> for Struct {
    type Error = Value;

    /// Takes a JSON object; anything else is handed back.
    fn try_from(value: Value) -> Result<Self, Value> {
        match value {
            Value::Object(fields) => Ok(Struct { fields }),
            other => Err(other),
        }
    }
}

impl serde::Serialize for Struct {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.fields.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Struct {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Struct {
            fields: Map::deserialize(deserializer)?,
        })
    }
}

impl prost::Message for Struct {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        to_wire_struct(&self.fields).encode_raw(buf)
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if tag == 1 {
            let mut entry = WireEntry::default();
            prost::encoding::message::merge(wire_type, &mut entry, buf, ctx)?;
            self.fields.insert(entry.key, from_wire_value(entry.value));
            Ok(())
        } else {
            prost::encoding::skip_field(wire_type, tag, buf, ctx)
        }
    }

    fn encoded_len(&self) -> usize {
        to_wire_struct(&self.fields).encoded_len()
    }

    fn clear(&mut self) {
        self.fields.clear();
    }
}

// The wire shape of google.protobuf.Struct/Value/ListValue. A proto `map` is a repeated entry
// message on the wire, so a Vec of entries encodes identically and keeps the order.

#[derive(Clone, PartialEq, prost::Message)]
struct WireStruct {
    #[prost(message, repeated, tag = "1")]
    fields: Vec<WireEntry>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WireEntry {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(message, optional, tag = "2")]
    value: Option<WireValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WireValue {
    #[prost(oneof = "WireKind", tags = "1, 2, 3, 4, 5, 6")]
    kind: Option<WireKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum WireKind {
    #[prost(int32, tag = "1")]
    Null(i32),
    #[prost(double, tag = "2")]
    Number(f64),
    #[prost(string, tag = "3")]
    String(String),
    #[prost(bool, tag = "4")]
    Bool(bool),
    #[prost(message, tag = "5")]
    Struct(WireStruct),
    #[prost(message, tag = "6")]
    List(WireList),
}

#[derive(Clone, PartialEq, prost::Message)]
struct WireList {
    #[prost(message, repeated, tag = "1")]
    values: Vec<WireValue>,
}

fn to_wire_struct(fields: &Map<String, Value>) -> WireStruct {
    WireStruct {
        fields: fields
            .iter()
            .map(|(key, value)| WireEntry {
                key: key.clone(),
                value: Some(to_wire_value(value)),
            })
            .collect(),
    }
}

fn to_wire_value(value: &Value) -> WireValue {
    let kind = match value {
        Value::Null => WireKind::Null(0),
        Value::Bool(b) => WireKind::Bool(*b),
        Value::Number(n) => WireKind::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => WireKind::String(s.clone()),
        Value::Array(items) => WireKind::List(WireList {
            values: items.iter().map(to_wire_value).collect(),
        }),
        Value::Object(fields) => WireKind::Struct(to_wire_struct(fields)),
    };
    WireValue { kind: Some(kind) }
}

/// 2^53: every integer up to it is exact in a double.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

fn from_wire_value(value: Option<WireValue>) -> Value {
    match value.and_then(|v| v.kind) {
        None | Some(WireKind::Null(_)) => Value::Null,
        Some(WireKind::Bool(b)) => Value::Bool(b),
        Some(WireKind::Number(n)) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER => {
            Value::Number(Number::from(n as i64))
        }
        Some(WireKind::Number(n)) => Number::from_f64(n).map_or(Value::Null, Value::Number),
        Some(WireKind::String(s)) => Value::String(s),
        Some(WireKind::List(list)) => Value::Array(
            list.values
                .into_iter()
                .map(|v| from_wire_value(Some(v)))
                .collect(),
        ),
        Some(WireKind::Struct(object)) => Value::Object(
            object
                .fields
                .into_iter()
                .map(|entry| (entry.key, from_wire_value(entry.value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    fn render(ts: Timestamp) -> Option<String> {
        let mut text = [0; RFC3339_MAX];
        let len = ts.write_rfc3339(&mut text)?;
        Some(String::from_utf8(text[..len].to_vec()).expect("ASCII"))
    }

    #[test]
    fn writes_what_chrono_writes() {
        // Spread over the whole range, with every fraction width, by a fixed LCG.
        let (min, max) = (-62_135_596_800_i64, 253_402_300_799_i64);
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 11
        };
        let mut cases = vec![(min, 0), (max, 999_999_999), (0, 0), (-1, 999_000_000)];
        for _ in 0..20_000 {
            let seconds = min + (next() % (max - min + 1) as u64) as i64;
            let nanos = match next() % 4 {
                0 => 0,
                1 => (next() % 1000 * 1_000_000) as i32,
                2 => (next() % 1_000_000 * 1_000) as i32,
                _ => (next() % 1_000_000_000) as i32,
            };
            cases.push((seconds, nanos));
        }
        for (seconds, nanos) in cases {
            let ts = Timestamp { seconds, nanos };
            let chrono = ts
                .to_datetime()
                .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
            assert_eq!(render(ts), chrono, "{seconds} s {nanos} ns");
        }
    }

    #[test]
    fn refuses_what_proto3_cannot_hold() {
        for (seconds, nanos) in [
            (-62_135_596_801, 0), // 0000-12-31T23:59:59Z
            (253_402_300_800, 0), // 10000-01-01T00:00:00Z
            (0, -1),
            (0, 1_000_000_000),
            (i64::MAX, 0),
        ] {
            assert_eq!(
                render(Timestamp { seconds, nanos }),
                None,
                "{seconds} {nanos}"
            );
        }
    }
}

//! The history records' JSON, written straight into the output buffer: the same bytes as
//! `log_record(…).to_json_bytes()` (proto3 JSON of `quickstep.v1.HistoryEvent`), without
//! building the message, cloning the details into a `Struct` or rendering each
//! `input`/`output` into a string of its own. What every record of an execution shares (its
//! ARN, escaped once) is encoded once. Strings and values go through sonic-rs, as the proto
//! crate's encoder does, so the escaping is the same; `sinks::tests` hold the two paths to
//! byte-identical output.

use super::SinkError;
use asl::history::HistoryEvent;
use serde_json::{Map, Value};
use std::io::Write as _;

/// `inputDetails`/`outputDetails`: a record always holds the whole payload.
const NOT_TRUNCATED: &[u8] = br#"{"truncated":false}"#;

/// Writes the records of one run of one execution.
pub(crate) struct RecordWriter {
    /// The execution ARN as a JSON string (quoted and escaped); empty for an empty ARN, which
    /// proto3 JSON leaves out.
    quoted_arn: Vec<u8>,
    attempt: u32,
    /// Reused for the JSON text of `input`, `output` and `parameters`.
    scratch: Vec<u8>,
}

impl RecordWriter {
    /// A writer for the events of `execution_arn`'s run `attempt`.
    pub(crate) fn new(execution_arn: &str, attempt: u32) -> Result<RecordWriter, SinkError> {
        let mut quoted_arn = Vec::with_capacity(execution_arn.len() + 2);
        if !execution_arn.is_empty() {
            string(&mut quoted_arn, execution_arn)?;
        }
        Ok(RecordWriter {
            quoted_arn,
            attempt,
            scratch: Vec::new(),
        })
    }

    /// Appends `event`'s per-event record (a `quickstep.v1.HistoryEvent`) to `out`.
    pub(crate) fn event(
        &mut self,
        out: &mut Vec<u8>,
        event: &HistoryEvent,
    ) -> Result<(), SinkError> {
        out.push(b'{');
        // As the message's fields: 64-bit integers as decimal strings, defaults left out.
        let id = event.id as i64;
        if id != 0 {
            write!(out, r#""id":"{id}","#)?;
        }
        write!(
            out,
            r#""previous_event_id":"{}","#,
            event.previous_event_id as i64
        )?;
        if event.event_timestamp_ms != 0 {
            write!(out, r#""event_timestamp":"{}","#, event.event_timestamp_ms)?;
        }
        // AWS's type names are identifiers: nothing to escape.
        out.extend_from_slice(br#""type":""#);
        out.extend_from_slice(event.event_type.as_str().as_bytes());
        out.extend_from_slice(br#"","#);
        if !self.quoted_arn.is_empty() {
            out.extend_from_slice(br#""execution_arn":"#);
            out.extend_from_slice(&self.quoted_arn);
            out.push(b',');
        }
        out.extend_from_slice(br#""details":"#);
        self.details(out, &event.details)?;
        if self.attempt != 0 {
            write!(out, r#","attempt":{}"#, self.attempt)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// Appends the opening of an execution record (a `quickstep.v1.ExecutionHistory`), up to
    /// and including the `[` of its events; the caller writes the events, comma-separated,
    /// then [`RecordWriter::execution_end`].
    pub(crate) fn execution_start(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        if !self.quoted_arn.is_empty() {
            out.extend_from_slice(br#""execution_arn":"#);
            out.extend_from_slice(&self.quoted_arn);
            out.push(b',');
        }
        if self.attempt != 0 {
            // Infallible: writing to a Vec.
            let _ = write!(out, r#""attempt":{},"#, self.attempt);
        }
        out.extend_from_slice(br#""events":["#);
    }

    /// Closes what [`RecordWriter::execution_start`] opened.
    pub(crate) fn execution_end(out: &mut Vec<u8>) {
        out.extend_from_slice(b"]}");
    }

    /// The details as `log_record` shapes them: an object as it is, null as `{}`, anything
    /// else as `{"value": …}`.
    fn details(&mut self, out: &mut Vec<u8>, details: &Value) -> Result<(), SinkError> {
        match details {
            Value::Object(map) => self.object(out, map),
            Value::Null => {
                out.extend_from_slice(b"{}");
                Ok(())
            }
            other => {
                out.extend_from_slice(br#"{"value":"#);
                value(out, other)?;
                out.push(b'}');
                Ok(())
            }
        }
    }

    /// An object of details: `input`, `output` and `parameters` as JSON text, and
    /// `inputDetails`/`outputDetails` beside `input`/`output` — where the object already has
    /// one, in its place (as `Map::insert` replaces), else after the last key.
    fn object(&mut self, out: &mut Vec<u8>, map: &Map<String, Value>) -> Result<(), SinkError> {
        let has_input = map.contains_key("input");
        let has_output = map.contains_key("output");
        out.push(b'{');
        for (i, (key, item)) in map.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, key)?;
            out.push(b':');
            match key.as_str() {
                "input" | "output" | "parameters" => {
                    self.scratch.clear();
                    serde_json::to_writer(&mut self.scratch, item)
                        .map_err(|e| SinkError::Io(e.into()))?;
                    // serde_json writes UTF-8.
                    let text = std::str::from_utf8(&self.scratch)
                        .map_err(|e| SinkError::Io(std::io::Error::other(e)))?;
                    string(out, text)?;
                }
                "inputDetails" if has_input => out.extend_from_slice(NOT_TRUNCATED),
                "outputDetails" if has_output => out.extend_from_slice(NOT_TRUNCATED),
                _ => value(out, item)?,
            }
        }
        for (present, name) in [(has_input, "inputDetails"), (has_output, "outputDetails")] {
            if present && !map.contains_key(name) {
                // The object has `input` or `output`, so a key came before.
                out.push(b',');
                string(out, name)?;
                out.push(b':');
                out.extend_from_slice(NOT_TRUNCATED);
            }
        }
        out.push(b'}');
        Ok(())
    }
}

/// A JSON string, escaped as the proto crate's encoder escapes it.
fn string(out: &mut Vec<u8>, text: &str) -> Result<(), SinkError> {
    sonic_rs::to_writer(out, text).map_err(encode_error)
}

/// A JSON value, as the proto crate's encoder writes it inside a `Struct`.
fn value(out: &mut Vec<u8>, item: &Value) -> Result<(), SinkError> {
    sonic_rs::to_writer(out, item).map_err(encode_error)
}

fn encode_error(source: sonic_rs::Error) -> SinkError {
    SinkError::Encode(quickstep_proto::Error::JsonEncode {
        message: "quickstep.v1.HistoryEvent",
        source,
    })
}

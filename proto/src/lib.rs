//! The canonical wire schema of every Quickstep record that crosses Kafka.
//!
//! The `.proto` files under `proto/quickstep/v1/` are the source of truth; this crate compiles
//! them (with protox, a pure-Rust compiler: no system `protoc`) into Rust types with prost, and
//! gives them serde impls that follow the proto3 JSON mapping (pbjson). It owns:
//!
//! - [`v1::StartExecution`]: the optional envelope of a start record;
//! - [`v1::ExecutionResult`]: a result record (a StartSyncExecution response, plus the
//!   idempotency key and the start record's topic/partition/offset);
//! - [`v1::HistoryEvent`]: a history record, in the shape of Step Functions' CloudWatch log
//!   events for Express;
//! - the `content-type` values that name each encoding, and helpers to encode and decode.
//!
//! Every message has both forms: binary protobuf (`to_protobuf_bytes`/`from_protobuf_bytes`)
//! and proto3 JSON (`to_json_bytes`/`from_json_bytes`). The JSON form uses the JSON names
//! (`executionArn`; the history event's snake_case names, as AWS writes them), enums by name,
//! timestamps as RFC 3339 strings and 64-bit integers as decimal strings. Readers accept what
//! proto3 JSON readers accept (the proto field names too, numbers or strings for integers) and
//! **ignore unknown fields**, as binary protobuf does, so a newer producer never breaks an
//! older worker. Malformed input is an [`Error`], never a panic.

#![forbid(unsafe_code)]

pub mod wkt;

/// The generated types of package `quickstep.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/quickstep.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/quickstep.v1.serde.rs"));
}

/// The `FileDescriptorSet` of the schema (imports included), for reflection and schema
/// registries.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/quickstep_descriptor.bin"));

/// The Kafka header that says how a record's value is encoded.
pub const CONTENT_TYPE_HEADER: &str = "content-type";

/// A value in JSON: a start record's bare execution input, or a message's proto3 JSON form.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// Binary protobuf, in general; the `messageType` parameter names the message.
pub const CONTENT_TYPE_PROTOBUF: &str = "application/x-protobuf";

/// A start record whose value is a binary [`v1::StartExecution`] envelope.
pub const CONTENT_TYPE_START_EXECUTION: &str =
    "application/x-protobuf; messageType=quickstep.v1.StartExecution";

/// A start record whose value is a [`v1::StartExecution`] envelope in proto3 JSON (as opposed
/// to plain [`CONTENT_TYPE_JSON`], which means the value is the execution input itself).
pub const CONTENT_TYPE_START_EXECUTION_JSON: &str =
    "application/json; messageType=quickstep.v1.StartExecution";

/// A result record whose value is a binary [`v1::ExecutionResult`].
pub const CONTENT_TYPE_EXECUTION_RESULT: &str =
    "application/x-protobuf; messageType=quickstep.v1.ExecutionResult";

/// A history record whose value is a binary [`v1::HistoryEvent`].
pub const CONTENT_TYPE_HISTORY_EVENT: &str =
    "application/x-protobuf; messageType=quickstep.v1.HistoryEvent";

/// A history record in the `execution` format: a [`v1::ExecutionHistory`] in proto3 JSON, one
/// execution's events in one record (per-event records carry no `content-type`).
pub const CONTENT_TYPE_EXECUTION_HISTORY_JSON: &str =
    "application/json; messageType=quickstep.v1.ExecutionHistory";

/// A binary [`v1::ExecutionHistory`].
pub const CONTENT_TYPE_EXECUTION_HISTORY: &str =
    "application/x-protobuf; messageType=quickstep.v1.ExecutionHistory";

/// How a `content-type` header value is read: its media type and its `messageType` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a> {
    /// The media type, trimmed (`application/x-protobuf`); compare it case-insensitively.
    pub media_type: &'a str,
    /// The `messageType` parameter (`quickstep.v1.StartExecution`), unquoted, if any.
    pub message_type: Option<&'a str>,
}

impl<'a> ContentType<'a> {
    /// Parses `type/subtype; name=value; …`. Parameter names are case-insensitive; a value may
    /// be quoted. Never fails: odd parameters are skipped.
    pub fn parse(header: &'a str) -> Self {
        let mut parts = header.split(';');
        let media_type = parts.next().unwrap_or("").trim();
        let message_type = parts.find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("messageType")
                .then(|| value.trim().trim_matches('"'))
        });
        ContentType {
            media_type,
            message_type,
        }
    }

    /// Whether this names binary protobuf of the message `full_name`
    /// (`quickstep.v1.StartExecution`).
    pub fn is_protobuf_of(&self, full_name: &str) -> bool {
        self.media_type.eq_ignore_ascii_case(CONTENT_TYPE_PROTOBUF)
            && self.message_type == Some(full_name)
    }

    /// Whether this names proto3 JSON of the message `full_name`.
    pub fn is_json_of(&self, full_name: &str) -> bool {
        self.media_type.eq_ignore_ascii_case(CONTENT_TYPE_JSON)
            && self.message_type == Some(full_name)
    }
}

/// Why a record could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not the proto3 JSON form of the message (bad JSON, a wrong type, a bad
    /// timestamp or enum name, trailing data, …).
    #[error("invalid JSON for {message}: {source}")]
    Json {
        /// The message's full name.
        message: &'static str,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// The message cannot be written as proto3 JSON (a timestamp outside years 1–9999, a
    /// non-finite number in a `Struct`).
    #[error("cannot encode {message} as JSON: {source}")]
    JsonEncode {
        /// The message's full name.
        message: &'static str,
        /// What sonic-rs said.
        #[source]
        source: sonic_rs::Error,
    },
    /// The bytes are not the binary protobuf form of the message.
    #[error("invalid protobuf for {message}: {source}")]
    Protobuf {
        /// The message's full name.
        message: &'static str,
        /// What prost said.
        #[source]
        source: prost::DecodeError,
    },
}

macro_rules! wire_message {
    ($ty:ident, $full_name:literal, $content_type:ident) => {
        impl v1::$ty {
            /// The message's full protobuf name.
            pub const FULL_NAME: &'static str = $full_name;
            /// The `content-type` of the message's binary form.
            pub const CONTENT_TYPE: &'static str = $content_type;

            /// Encodes the message as binary protobuf.
            pub fn to_protobuf_bytes(&self) -> Vec<u8> {
                prost::Message::encode_to_vec(self)
            }

            /// Decodes binary protobuf. Unknown fields are skipped.
            pub fn from_protobuf_bytes(bytes: &[u8]) -> Result<Self, Error> {
                <Self as prost::Message>::decode(bytes).map_err(|source| Error::Protobuf {
                    message: $full_name,
                    source,
                })
            }

            /// Encodes the message as proto3 JSON. Fails only on a timestamp outside years
            /// 1–9999 or a non-finite number in a `Struct`.
            pub fn to_json_bytes(&self) -> Result<Vec<u8>, Error> {
                // sonic-rs writes what serde_json writes (tests/wire.rs holds them to it)
                // with SIMD string escaping: every execution's result comes through here.
                // Sized from the binary form (JSON's names, quotes and escapes make it
                // larger), so the buffer rarely grows and copies itself.
                let mut out = Vec::with_capacity(2 * prost::Message::encoded_len(self) + 256);
                sonic_rs::to_writer(&mut out, self)
                    .map(|()| out)
                    .map_err(|source| Error::JsonEncode {
                        message: $full_name,
                        source,
                    })
            }

            /// Decodes proto3 JSON. Unknown fields are ignored; anything else malformed is an
            /// error.
            pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, Error> {
                serde_json::from_slice(bytes).map_err(|source| Error::Json {
                    message: $full_name,
                    source,
                })
            }
        }
    };
}

wire_message!(
    StartExecution,
    "quickstep.v1.StartExecution",
    CONTENT_TYPE_START_EXECUTION
);
wire_message!(
    ExecutionResult,
    "quickstep.v1.ExecutionResult",
    CONTENT_TYPE_EXECUTION_RESULT
);
wire_message!(
    HistoryEvent,
    "quickstep.v1.HistoryEvent",
    CONTENT_TYPE_HISTORY_EVENT
);
wire_message!(
    ExecutionHistory,
    "quickstep.v1.ExecutionHistory",
    CONTENT_TYPE_EXECUTION_HISTORY
);

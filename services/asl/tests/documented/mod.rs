//! Engine tests written from AWS's documentation, state type by state type and field by
//! field, apart from the recorded conformance corpus (which under-covers some corners).
//! Each file cites the page it follows. What they cover:
//!
//! - `task`: the same pipeline with ResultSelector; TimeoutSeconds(Path) and
//!   HeartbeatSeconds(Path) from a path or an expression: type, sign and range.
//! - `wait`: Seconds, SecondsPath, Timestamp, TimestampPath (and their JSONata forms):
//!   type, sign and the 0..=99999999 range; variables and `$$` in the paths.

mod task;
mod wait;

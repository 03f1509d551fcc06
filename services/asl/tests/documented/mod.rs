//! Engine tests written from AWS's documentation, state type by state type and field by
//! field, apart from the recorded conformance corpus (which under-covers some corners).
//! Each file cites the page it follows. What they cover:
//!
//! - `choice`: a matched rule's Assign (JSONPath and JSONata), InputPath/OutputPath,
//!   variables and `$$` as a rule's Variable.
//! - `task`: InputPath → Parameters → ResultSelector → Assign → ResultPath → OutputPath,
//!   variables and `$$` in each; TimeoutSeconds(Path) and
//!   HeartbeatSeconds(Path) from a path or an expression: type, sign and range.
//! - `wait`: Seconds, SecondsPath, Timestamp, TimestampPath (and their JSONata forms):
//!   type, sign and the 0..=99999999 range; variables and `$$` in the paths.
//! - `variables`: Assign evaluation order (every expression sees the values from before
//!   the state; JSONata Output too), the 256 KiB limit in both query languages.

mod choice;
mod task;
mod variables;
mod wait;

//! Engine tests written from AWS's documentation, state type by state type and field by
//! field, apart from the recorded conformance corpus (which under-covers some corners).
//! Each file cites the page it follows. What they cover:
//!
//! - `pass`: InputPath → Parameters → Result → Assign → ResultPath → OutputPath, variables
//!   and `$$` in every path field (ResultPath refuses both), JSONata Output/Assign.
//! - `task`: InputPath → Parameters → ResultSelector → Assign → ResultPath → OutputPath,
//!   variables and `$$` in each; TimeoutSeconds(Path) and HeartbeatSeconds(Path) from a
//!   path or an expression: type and sign; JSONata Arguments → Output/Assign.
//! - `wait`: Seconds, SecondsPath, Timestamp, TimestampPath (and their JSONata forms):
//!   type, sign and the 0..=99999999 range; variables and `$$` in the paths; Assign and
//!   OutputPath on the effective input.
//! - `map`: InputPath → ItemsPath → ItemSelector (`$$.Map.Item`, variables) → result array
//!   → ResultSelector → Assign → ResultPath → OutputPath; MaxConcurrencyPath from a
//!   variable; JSONata Items/ItemSelector/Output/Assign.
//! - `parallel`: branch input after Parameters, ResultSelector and Assign on the array of
//!   outputs, branch variables scoped; JSONata Arguments/Output/Assign.
//! - `choice`: a matched rule's Assign (JSONPath and JSONata) after the state's Assign,
//!   InputPath/OutputPath, variables and `$$` as a rule's Variable.
//! - `succeed_fail`: Succeed's InputPath/OutputPath, Fail's ErrorPath/CausePath from
//!   variables, `$$` and intrinsics, JSONata Error/Cause.
//! - `catch_retry`: the error path: the catcher's ResultPath on the raw input, the failed
//!   state's Assign/OutputPath skipped, catcher Assign on the error output with the old
//!   variables, retries reading the same variables, JSONata Catch Output/Assign.
//! - `variables`: Assign evaluation order (every expression sees the values from before
//!   the state; JSONata Output and the same state's Parameters/ResultSelector too), the
//!   256 KiB limit in both query languages, in catchers and Choice rules.

mod catch_retry;
mod choice;
mod map;
mod parallel;
mod pass;
mod succeed_fail;
mod task;
mod variables;
mod wait;

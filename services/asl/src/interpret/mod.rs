//! The interpreter: a compiled `Machine` and the run loop over it. Tasks, time, randomness
//! and history come in through `Services`; the engine itself does no I/O, so one execution
//! is one future that any executor (tokio, or `VirtualClock::block_on`) can drive.

mod api;
mod choice;
mod clock;
mod compile;
mod data_flow;
#[cfg(test)]
mod in_place_tests;
mod retry_catch;
mod run;
mod scope;
mod size;
mod spans;
mod states;
mod template;
mod test_state;

pub use api::{
    CountingTokens, ExecutionInfo, Heartbeat, Outcome, Services, Status, TaskHandler, TaskRequest,
    TaskTokens,
};
pub use clock::{Clock, Rng, SplitMix64, VirtualClock};
pub use compile::{CompileError, DefinitionError, Machine};
pub use size::json_text;
pub use spans::SPAN_TARGET;
pub use test_state::{TestStateInput, TestStateOutcome, TestStatus, TESTED_STATE_NAME};

/// The largest payload (input, output, result) Step Functions accepts, in bytes.
pub const PAYLOAD_LIMIT_BYTES: usize = 262_144;

/// An Express execution runs at most this long; then it ends TIMED_OUT.
pub const EXPRESS_MAX_SECONDS: u64 = 300;

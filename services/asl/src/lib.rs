//! The Amazon States Language: parse → validate → compile → run.
//!
//! This crate owns the language and nothing else: no Kafka, HTTP, clocks or randomness.
//! Tasks, time and randomness come in through traits, so tests run on a virtual clock.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod intrinsics;
pub mod jsonata;
mod model;
pub mod path;
pub mod validate;

pub use error::{ErrorName, StatesError};
pub mod history;
pub mod interpret;
pub mod timestamp;

pub use interpret::{
    json_text, DefinitionError, ExecutionInfo, Machine, Outcome, Services, Status, TaskHandler,
    TaskRequest, TaskTokens, TestStateInput, TestStateOutcome, TestStatus, TESTED_STATE_NAME,
};

//! The `States.*` intrinsic functions: one parser for call expressions and one table,
//! name → arity → function. Paths inside arguments resolve through `IntrinsicEnv`, so this
//! module knows nothing of states.

use crate::error::StatesError;
use crate::path::{Path, PathError};
use serde_json::Value;

/// Resolves the paths an intrinsic's arguments name, and supplies randomness.
pub trait IntrinsicEnv {
    /// The value a path selects (input, context or variable), or the error to raise.
    fn resolve(&self, path: &Path) -> Result<Value, StatesError>;
    /// 64 random bits (for `States.UUID` and an unseeded `States.MathRandom`).
    fn random_u64(&mut self) -> u64;
}

/// One argument of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string, number, boolean or null literal.
    Literal(Value),
    /// A JSONPath (`$.a`, `$$.Execution.Id`, `$var`).
    Path(Path),
    /// A nested call.
    Call(Call),
}

/// A parsed intrinsic call such as `States.Format('{}', $.x)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    name: String,
    args: Vec<Arg>,
}

/// Why a call expression does not parse (unknown function, wrong arity, bad syntax).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong, naming the culprit.
    pub message: String,
}

impl From<PathError> for ParseError {
    fn from(error: PathError) -> Self {
        ParseError {
            message: error.to_string(),
        }
    }
}

/// True when a `.$` value is written as an intrinsic call rather than a path.
pub fn looks_like_call(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

impl Call {
    /// Parses a call expression, checking the function exists and the arity fits.
    pub fn parse(text: &str) -> Result<Call, ParseError> {
        todo!("{text}")
    }

    /// The function's name, e.g. `States.Format`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Evaluates the call; failures are `States.IntrinsicFailure` (or what a path raises).
    pub fn eval(&self, env: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
        todo!("{:?}", self.args.len() + env.random_u64() as usize)
    }
}

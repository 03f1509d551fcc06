//! The `States.*` intrinsic functions: one parser for call expressions and one table,
//! name → arity → function. Paths inside arguments resolve through `IntrinsicEnv`, so this
//! module knows nothing of states.
//!
//! AWS semantics come from "Intrinsic functions for JSONPath states in Step Functions"
//! (docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html), cited below as
//! "the AWS page"; where it is silent we follow what AWS's Java runtime most plausibly does.

use crate::error::StatesError;
use crate::path::{Path, PathError};
use serde_json::Value;

mod args;
mod array;
mod encoding;
mod math;
mod parse;
mod random;
#[cfg(test)]
mod tests;
mod text;

use array::{
    array, array_contains, array_get_item, array_length, array_partition, array_range, array_unique,
};
use encoding::{base64_decode, base64_encode, hash};
pub(crate) use encoding::{hex_digest, HASH_ALGORITHMS};
use math::math_add;
use parse::Parser;
use random::{math_random, uuid};
use text::{format, json_merge, json_to_string, string_split, string_to_json};

/// Resolves the paths an intrinsic's arguments name, and supplies randomness.
pub trait IntrinsicEnv {
    /// The value a path selects (input, context or variable), or the error to raise.
    fn resolve(&self, path: &Path) -> Result<Value, StatesError>;
    /// The value a path selects, borrowed, when the env can find it without a copy;
    /// `None` sends the caller to `resolve` (which also reports what is missing).
    fn lookup(&self, _path: &Path) -> Option<&Value> {
        None
    }
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
    /// Found when the call is parsed: evaluating it looks nothing up.
    function: &'static Function,
    args: Vec<Arg>,
    /// For `States.Format` with a literal template: the text between its `{}` placeholders.
    /// Kept apart from the unescaped literal because `\{}` is text, not a placeholder.
    template: Option<Vec<String>>,
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

/// AWS: "You can nest up to 10 intrinsic functions within a field" (the AWS page). We count
/// the outermost call as level 1 and refuse an 11th level.
pub const MAX_NESTING: usize = 10;

/// `States.Hash`, `States.Base64Encode` and `States.Base64Decode` take at most 10,000
/// characters (the AWS page).
const MAX_TEXT_CHARS: usize = 10_000;

/// `States.ArrayRange` may produce at most 1000 items (the AWS page).
const MAX_RANGE_ITEMS: i128 = 1000;

type Eval = fn(&Call, Vec<Value>, &mut dyn IntrinsicEnv) -> Result<Value, StatesError>;

/// One intrinsic: its name, how many arguments it takes, and what it does.
struct Function {
    name: &'static str,
    min_args: usize,
    /// `None`: any number from `min_args` up.
    max_args: Option<usize>,
    eval: Eval,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The table holds each name once: the same name is the same function.
impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// The one table of intrinsics, in the AWS page's order.
/// The name of every intrinsic function, for hints.
pub(crate) fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name)
}

const FUNCTIONS: &[Function] = &[
    Function {
        name: "States.Format",
        min_args: 1,
        max_args: None,
        eval: format,
    },
    Function {
        name: "States.StringToJson",
        min_args: 1,
        max_args: Some(1),
        eval: string_to_json,
    },
    Function {
        name: "States.JsonToString",
        min_args: 1,
        max_args: Some(1),
        eval: json_to_string,
    },
    Function {
        name: "States.Array",
        min_args: 0,
        max_args: None,
        eval: array,
    },
    Function {
        name: "States.ArrayPartition",
        min_args: 2,
        max_args: Some(2),
        eval: array_partition,
    },
    Function {
        name: "States.ArrayContains",
        min_args: 2,
        max_args: Some(2),
        eval: array_contains,
    },
    Function {
        name: "States.ArrayRange",
        min_args: 3,
        max_args: Some(3),
        eval: array_range,
    },
    Function {
        name: "States.ArrayGetItem",
        min_args: 2,
        max_args: Some(2),
        eval: array_get_item,
    },
    Function {
        name: "States.ArrayLength",
        min_args: 1,
        max_args: Some(1),
        eval: array_length,
    },
    Function {
        name: "States.ArrayUnique",
        min_args: 1,
        max_args: Some(1),
        eval: array_unique,
    },
    Function {
        name: "States.Base64Encode",
        min_args: 1,
        max_args: Some(1),
        eval: base64_encode,
    },
    Function {
        name: "States.Base64Decode",
        min_args: 1,
        max_args: Some(1),
        eval: base64_decode,
    },
    Function {
        name: "States.Hash",
        min_args: 2,
        max_args: Some(2),
        eval: hash,
    },
    Function {
        name: "States.JsonMerge",
        min_args: 3,
        max_args: Some(3),
        eval: json_merge,
    },
    Function {
        name: "States.MathRandom",
        min_args: 2,
        max_args: Some(3),
        eval: math_random,
    },
    Function {
        name: "States.MathAdd",
        min_args: 2,
        max_args: Some(2),
        eval: math_add,
    },
    Function {
        name: "States.StringSplit",
        min_args: 2,
        max_args: Some(2),
        eval: string_split,
    },
    Function {
        name: "States.UUID",
        min_args: 0,
        max_args: Some(0),
        eval: uuid,
    },
];

fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

impl Call {
    /// Parses a call expression, checking the function exists and the arity fits.
    pub fn parse(text: &str) -> Result<Call, ParseError> {
        let mut parser = Parser { text, pos: 0 };
        parser.skip_ws();
        let call = parser.call(1)?;
        parser.skip_ws();
        if parser.pos < text.len() {
            return Err(parser.error("unexpected text after the call"));
        }
        Ok(call)
    }

    /// The function's name, e.g. `States.Format`.
    pub fn name(&self) -> &str {
        self.function.name
    }

    /// The arguments as written.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// Evaluates the call; failures are `States.IntrinsicFailure` (or what a path raises).
    pub fn eval(&self, env: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
        if let Some(pieces) = &self.template {
            if pieces.len() == self.args.len() {
                return self.format_in_place(pieces, env);
            }
        }
        let mut values = Vec::with_capacity(self.args.len());
        for (i, arg) in self.args.iter().enumerate() {
            values.push(match arg {
                // `States.Format` with a literal template reads the pieces split from it
                // at parse time, never this copy: skip copying it on every call.
                Arg::Literal(_) if i == 0 && self.template.is_some() => Value::Null,
                Arg::Literal(value) => value.clone(),
                Arg::Path(path) => env.resolve(path)?,
                Arg::Call(call) => call.eval(env)?,
            });
        }
        (self.function.eval)(self, values, env)
    }

    /// `States.Format` with a literal template and as many values as placeholders: each
    /// value is written into the text as it is found, read in place where the env can —
    /// no list of copied arguments. Values are evaluated in order and the first failure
    /// is the call's, as in `eval`.
    fn format_in_place(
        &self,
        pieces: &[String],
        env: &mut dyn IntrinsicEnv,
    ) -> Result<Value, StatesError> {
        let text = pieces.iter().map(String::len).sum::<usize>();
        let mut out = String::with_capacity(text + 16 * (pieces.len() - 1));
        out.push_str(&pieces[0]);
        for (arg, piece) in self.args[1..].iter().zip(&pieces[1..]) {
            match arg {
                Arg::Literal(value) => text::java_string(value, &mut out),
                Arg::Path(path) => match env.lookup(path) {
                    Some(value) => text::java_string(value, &mut out),
                    None => text::java_string(&env.resolve(path)?, &mut out),
                },
                Arg::Call(call) => text::java_string(&call.eval(env)?, &mut out),
            }
            out.push_str(piece);
        }
        Ok(Value::String(out))
    }

    fn fail(&self, cause: impl std::fmt::Display) -> StatesError {
        StatesError::intrinsic(format!("{} failed: {}", self.function.name, cause))
    }
}

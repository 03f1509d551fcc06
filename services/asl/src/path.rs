//! JSONPath as ASL uses it (Jayway semantics, as AWS runs it): parsed once into a `Path`,
//! evaluated on a borrowed `&Value`. Also reference paths (`ResultPath`), which may only be
//! definite and which `assign` writes through, creating objects on the way.

use serde_json::Value;
use std::borrow::Cow;

/// What a path starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's (effective) input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

/// A parse failure: the text and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid JSONPath '{text}': {reason}")]
pub struct PathError {
    /// The path as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why a path selected nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Missing {
    /// The Jayway rendering of the path up to the failing step, e.g. `$['no']`.
    pub at: String,
    /// `true` for "Missing property in path", `false` for "No results for path".
    pub missing_property: bool,
}

impl Missing {
    /// AWS's (Jayway's) text for this failure.
    pub fn message(&self) -> String {
        todo!()
    }
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    text: String,
    root: Root,
}

impl Path {
    /// Parses `$…`, `$$…` or `$var…`.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        todo!("{text}")
    }

    /// The normalized bracket form, `$['a'][0]`.
    pub fn render_jayway(&self) -> String {
        todo!()
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the path starts from.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// A definite path names at most one value (no wildcard, slice, filter, union, deep scan).
    pub fn is_definite(&self) -> bool {
        todo!()
    }

    /// Selects from `root` (already the value `self.root()` names). A definite path that
    /// matches nothing is `Err(Missing)`; an indefinite one yields an array (maybe empty).
    pub fn select<'a>(&self, root: &'a Value) -> Result<Cow<'a, Value>, Missing> {
        todo!("{root}")
    }

    /// Writes `value` at this reference path inside `target`, creating objects as needed.
    pub fn assign(&self, target: &mut Value, value: Value) -> Result<(), Missing> {
        todo!("{target}{value}")
    }
}

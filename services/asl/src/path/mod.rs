//! JSONPath as ASL uses it (Jayway semantics, as AWS runs it): parsed once into a `Path`,
//! evaluated on a borrowed `&Value`. Also reference paths (`ResultPath`), which may only be
//! definite and which `assign` writes through, creating objects on the way.

use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

mod assign;
mod evaluate;
mod filter;
mod messages;
mod parse;
#[cfg(test)]
mod tests;

pub(crate) use evaluate::field;
use evaluate::{field_mut, resolve_index};
pub use messages::Missing;
use parse::{Mode, Parser};

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

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    text: String,
    root: Root,
    body: Body,
    definite: bool,
    /// Every step is a name or an index and no function follows: `lookup` can answer.
    chain: bool,
}

/// Bounds recursion in the parser (nested parens, `!`, filters inside filters) so hostile
/// input ends in an error rather than a stack overflow. Real filters nest two or three deep.
const MAX_DEPTH: usize = 32;

/// The steps after the root, plus an optional trailing Jayway function.
#[derive(Debug, Clone, PartialEq)]
struct Body {
    steps: Vec<Step>,
    func: Option<Func>,
    /// Every step names at most one value, so evaluation can walk borrowed references.
    prefix_definite: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.name` or `['name']`.
    Field(String),
    /// `['a','b']`: Jayway merges these into one object when last, else iterates them.
    Fields(Vec<String>),
    /// `[n]`, negative counting from the end.
    Index(i64),
    /// `[n,m,…]`.
    Indexes(Vec<i64>),
    /// `.*` or `[*]`.
    Wildcard,
    /// `[a:b]`, `[a:]`, `[:b]` (no step, as in Jayway).
    Slice(Option<i64>, Option<i64>),
    /// `[?(…)]`.
    Filter(Box<Expr>),
    /// `..` followed by one step (`..name`, `..*`, `..[0]`, `..['a']`, `..[?(…)]`).
    Scan(Box<Step>),
}

/// Jayway's argument-less path functions, allowed only at the end of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Length,
    Min,
    Max,
    Avg,
    Sum,
    Stddev,
    Keys,
    First,
    Last,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Exists(SubPath),
    Compare(Operand, Op, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(Value),
    Path(SubPath),
}

/// A path inside a filter: from `@` (the candidate) or `$` (the whole document).
#[derive(Debug, Clone, PartialEq)]
struct SubPath {
    from_document: bool,
    body: Body,
}

impl Path {
    /// Parses `$…`, `$$…` or `$var…`.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        // Jayway trims the expression before compiling it.
        let trimmed = text.trim();
        let mut parser = Parser {
            text: trimmed,
            original: text,
            pos: 0,
        };
        let path = parser.parse_path(Mode::Top)?;
        if parser.pos < trimmed.len() {
            return Err(parser.unexpected("after the path"));
        }
        Ok(path)
    }

    /// Parses the longest path at the start of `text` (stopping at whitespace, `,` or `)`),
    /// for callers such as intrinsic-function arguments. Returns the path and the bytes used.
    pub fn parse_prefix(text: &str) -> Result<(Path, usize), PathError> {
        let mut parser = Parser {
            text,
            original: text,
            pos: 0,
        };
        let mut path = parser.parse_path(Mode::Embedded)?;
        path.text = text[..parser.pos].to_string();
        Ok((path, parser.pos))
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
    /// As in Jayway, a property union `['a','b']` as the last step is definite: it yields
    /// one object holding those properties.
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// True when the path may be written through (`ResultPath`): only names and indexes.
    pub fn is_reference(&self) -> bool {
        self.chain
    }

    /// Jayway's normalized form, e.g. `$['a']['b'][0]`, as AWS error messages show it.
    pub fn render_jayway(&self) -> String {
        self.render(self.body.steps.len(), true)
    }

    /// What a chain of names and indexes (`$.a.b[0]`) selects from `root`, borrowed, as
    /// `select` would; `None` when it selects nothing or the path is not such a chain
    /// (then `select` answers, and says why). The engine's common case, without the
    /// error `select` builds.
    #[inline]
    pub fn lookup<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        if self.chain {
            evaluate::lookup(&self.body.steps, root)
        } else {
            None
        }
    }

    /// Selects from `root` (already the value `self.root()` names). A definite path that
    /// matches nothing is `Err(Missing)`; an indefinite one yields an array (maybe empty).
    /// A trailing function (`.length()`) applies to what the rest selects and yields one value.
    /// Inside filters, `$` also means `root`.
    #[inline]
    pub fn select<'a>(&self, root: &'a Value) -> Result<Cow<'a, Value>, Missing> {
        if let Some(found) = self.lookup(root) {
            return Ok(Cow::Borrowed(found));
        }
        match self.body.eval(root, root) {
            Some(value) => Ok(value),
            None => Err(self.diagnose(root)),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

//! JSONPath as ASL uses it (Jayway semantics, as AWS runs it): parsed once into a `Path`,
//! evaluated on a borrowed `&Value`. Also reference paths (`ResultPath`), which may only be
//! definite and which `assign` writes through, creating objects on the way.

use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

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
    /// The text Jayway (and so AWS) puts in its error message.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing_property {
            write!(f, "Missing property in path {}", self.at)
        } else {
            write!(f, "No results for path: {}", self.at)
        }
    }
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    text: String,
    root: Root,
    body: Body,
    definite: bool,
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
        self.body.func.is_none()
            && self
                .body
                .steps
                .iter()
                .all(|s| matches!(s, Step::Field(_) | Step::Index(_)))
    }

    /// Jayway's normalized form, e.g. `$['a']['b'][0]`, as AWS error messages show it.
    pub fn render_jayway(&self) -> String {
        self.render(self.body.steps.len(), true)
    }

    /// Selects from `root` (already the value `self.root()` names). A definite path that
    /// matches nothing is `Err(Missing)`; an indefinite one yields an array (maybe empty).
    /// A trailing function (`.length()`) applies to what the rest selects and yields one value.
    /// Inside filters, `$` also means `root`.
    #[inline]
    pub fn select<'a>(&self, root: &'a Value) -> Result<Cow<'a, Value>, Missing> {
        match self.body.eval(root, root) {
            Some(value) => Ok(value),
            None => Err(self.diagnose(root)),
        }
    }

    /// Writes `value` at this reference path inside `target`, creating objects as needed.
    pub fn assign(&self, target: &mut Value, value: Value) -> Result<(), Missing> {
        if !self.is_reference() {
            return Err(Missing {
                at: self.render_jayway(),
                missing_property: false,
            });
        }
        let steps = &self.body.steps;
        let Some((last, init)) = steps.split_last() else {
            *target = value;
            return Ok(());
        };
        // Check first, so a failed assign leaves `target` untouched (no half-built objects).
        // A one-step path creates nothing before its step, which fails as the check would.
        if !init.is_empty() {
            self.check_assign(target)?;
        }
        let mut current = target;
        for (i, step) in init.iter().enumerate() {
            current = match (step, current) {
                (Step::Field(name), Value::Object(map)) => {
                    if field(map, name).is_none() {
                        map.insert(name.clone(), Value::Object(Map::new()));
                    }
                    field_mut(map, name).ok_or_else(|| self.assign_failure(i))?
                }
                (Step::Index(index), Value::Array(items)) => {
                    let at =
                        resolve_index(items.len(), *index).ok_or_else(|| self.assign_failure(i))?;
                    &mut items[at]
                }
                _ => return Err(self.assign_failure(i)),
            };
        }
        match (last, current) {
            (Step::Field(name), Value::Object(map)) => {
                if let Some(slot) = field_mut(map, name) {
                    *slot = value;
                } else {
                    map.insert(name.clone(), value);
                }
            }
            (Step::Index(index), Value::Array(items)) => {
                let at = resolve_index(items.len(), *index)
                    .ok_or_else(|| self.assign_failure(steps.len() - 1))?;
                items[at] = value;
            }
            _ => return Err(self.assign_failure(steps.len() - 1)),
        }
        Ok(())
    }

    /// The read-only half of `assign`: would every step succeed? A missing key is fine
    /// (an object will be created) unless an index step must then look inside it.
    fn check_assign(&self, target: &Value) -> Result<(), Missing> {
        let mut current = Some(target);
        for (i, step) in self.body.steps.iter().enumerate() {
            current = match (step, current) {
                (Step::Field(name), Some(Value::Object(map))) => field(map, name),
                (Step::Field(_), None) => None,
                (Step::Index(index), Some(Value::Array(items))) => Some(
                    items
                        .get(
                            resolve_index(items.len(), *index)
                                .ok_or_else(|| self.assign_failure(i))?,
                        )
                        .ok_or_else(|| self.assign_failure(i))?,
                ),
                _ => return Err(self.assign_failure(i)),
            };
        }
        Ok(())
    }

    /// Step `i` cannot be written: the last step is "No results" for the whole path, an
    /// earlier one "Missing property" up to it, as a read would report.
    fn assign_failure(&self, i: usize) -> Missing {
        if i + 1 == self.body.steps.len() {
            Missing {
                at: self.render_jayway(),
                missing_property: false,
            }
        } else {
            Missing {
                at: self.render(i + 1, false),
                missing_property: true,
            }
        }
    }

    /// Renders the root and the first `count` steps; `with_func` adds the trailing function.
    fn render(&self, count: usize, with_func: bool) -> String {
        let mut out = match &self.root {
            Root::Input => String::from("$"),
            Root::Context => String::from("$$"),
            Root::Variable(name) => format!("${name}"),
        };
        for step in &self.body.steps[..count] {
            render_step(step, &mut out);
        }
        if with_func {
            if let Some(func) = self.body.func {
                out.push('.');
                out.push_str(func.name());
                out.push_str("()");
            }
        }
        out
    }

    /// Works out, Jayway-style, why a definite path found nothing. Only runs on failure,
    /// so the hit path never allocates.
    fn diagnose(&self, root: &Value) -> Missing {
        let steps = &self.body.steps;
        let whole = || Missing {
            at: self.render_jayway(),
            missing_property: false,
        };
        let mut current = root;
        for (i, step) in steps.iter().enumerate() {
            // Jayway's "leaf": no further token, a trailing function included.
            let leaf = i + 1 == steps.len() && self.body.func.is_none();
            current = match step {
                Step::Field(name) => match current.as_object().and_then(|m| field(m, name)) {
                    Some(next) => next,
                    None if leaf => return whole(),
                    None => {
                        return Missing {
                            at: self.render(i + 1, false),
                            missing_property: true,
                        }
                    }
                },
                Step::Index(index) => match current
                    .as_array()
                    .and_then(|a| a.get(resolve_index(a.len(), *index)?))
                {
                    Some(next) => next,
                    None => return whole(),
                },
                _ => return whole(),
            };
        }
        whole()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn render_step(step: &Step, out: &mut String) {
    use std::fmt::Write;
    match step {
        Step::Field(name) => {
            let _ = write!(out, "['{name}']");
        }
        Step::Fields(names) => {
            out.push('[');
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "'{name}'");
            }
            out.push(']');
        }
        Step::Index(index) => {
            let _ = write!(out, "[{index}]");
        }
        Step::Indexes(indexes) => {
            out.push('[');
            for (i, index) in indexes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{index}");
            }
            out.push(']');
        }
        Step::Wildcard => out.push_str("[*]"),
        Step::Slice(from, to) => {
            out.push('[');
            if let Some(from) = from {
                let _ = write!(out, "{from}");
            }
            out.push(':');
            if let Some(to) = to {
                let _ = write!(out, "{to}");
            }
            out.push(']');
        }
        Step::Filter(_) => out.push_str("[?]"),
        Step::Scan(inner) => {
            out.push_str("..");
            render_step(inner, out);
        }
    }
}

/// A Jayway index (negative counts from the end) into an array of `len`, if in range.
fn resolve_index(len: usize, index: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { len + index } else { index };
    if (0..len).contains(&at) {
        usize::try_from(at).ok()
    } else {
        None
    }
}

/// Jayway's slice semantics, quirks included: `[a:b]` does not resolve a negative `b`, and
/// walks a negative `a` through the end of the array (`[-1:1]` on `[x,y,z]` is `[z,x]`).
fn slice_indices(len: usize, from: Option<i64>, to: Option<i64>) -> Vec<usize> {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    if n == 0 {
        return Vec::new();
    }
    let (start, end) = match (from, to) {
        (Some(from), None) => {
            let from = if from < 0 {
                n.saturating_add(from)
            } else {
                from
            };
            (from.max(0), n)
        }
        (None, Some(to)) => {
            let to = if to < 0 { n.saturating_add(to) } else { to };
            (0, to.min(n))
        }
        // Indexes below -len resolve to nothing, so start there to bound the walk.
        (Some(from), Some(to)) => (from.max(-n), to.min(n)),
        (None, None) => (0, n),
    };
    (start..end).filter_map(|i| resolve_index(len, i)).collect()
}

impl Body {
    /// `None` when a definite path (or a function) finds nothing.
    #[inline]
    fn eval<'a>(&self, start: &'a Value, document: &'a Value) -> Option<Cow<'a, Value>> {
        let selected = if self.prefix_definite {
            match self.steps.split_last() {
                Some((Step::Fields(names), init)) => {
                    Cow::Owned(merge(names, lookup(init, start)?)?)
                }
                _ => Cow::Borrowed(lookup(&self.steps, start)?),
            }
        } else {
            let found = collect(&self.steps, start, document);
            Cow::Owned(Value::Array(
                found.into_iter().map(Cow::into_owned).collect(),
            ))
        };
        match self.func {
            None => Some(selected),
            Some(func) => func.apply(&selected).map(Cow::Owned),
        }
    }
}

/// Objects up to this many members are searched in order rather than through the hash.
const SMALL_OBJECT: usize = 8;

/// A member by name. serde_json's map hashes every key looked up with SipHash; for the
/// small objects state machines mostly pass around, comparing the names in order costs
/// less than hashing one (the order machine spent a tenth of its time in SipHash).
pub(crate) fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if map.len() <= SMALL_OBJECT {
        map.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    } else {
        map.get(name)
    }
}

/// `field`, for writing.
fn field_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    if map.len() <= SMALL_OBJECT {
        map.iter_mut()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    } else {
        map.get_mut(name)
    }
}

/// The hot path: a chain of names and indexes, no allocation.
#[inline]
fn lookup<'a>(steps: &[Step], mut current: &'a Value) -> Option<&'a Value> {
    for step in steps {
        current = match (step, current) {
            (Step::Field(name), Value::Object(map)) => field(map, name)?,
            (Step::Index(index), Value::Array(items)) => {
                items.get(resolve_index(items.len(), *index)?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// Jayway's leaf property union: one object with those of the properties that exist.
fn merge(names: &[String], value: &Value) -> Option<Value> {
    let map = value.as_object()?;
    let mut merged = Map::new();
    for name in names {
        if let Some(v) = field(map, name) {
            merged.insert(name.clone(), v.clone());
        }
    }
    Some(Value::Object(merged))
}

/// Evaluates an indefinite chain breadth-first over a working set of borrowed values.
fn collect<'a>(steps: &[Step], start: &'a Value, document: &'a Value) -> Vec<Cow<'a, Value>> {
    let mut current = vec![start];
    let mut next = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if let (Step::Fields(names), true) = (step, i + 1 == steps.len()) {
            return current
                .into_iter()
                .filter_map(|v| merge(names, v))
                .map(Cow::Owned)
                .collect();
        }
        for value in current.drain(..) {
            apply_step(step, value, document, &mut next);
        }
        std::mem::swap(&mut current, &mut next);
    }
    current.into_iter().map(Cow::Borrowed).collect()
}

fn apply_step<'a>(step: &Step, value: &'a Value, document: &'a Value, out: &mut Vec<&'a Value>) {
    match (step, value) {
        (Step::Field(name), Value::Object(map)) => out.extend(field(map, name)),
        (Step::Fields(names), Value::Object(map)) => {
            out.extend(names.iter().filter_map(|n| field(map, n)));
        }
        (Step::Index(index), Value::Array(items)) => {
            out.extend(resolve_index(items.len(), *index).map(|i| &items[i]));
        }
        (Step::Indexes(indexes), Value::Array(items)) => out.extend(
            indexes
                .iter()
                .filter_map(|&i| resolve_index(items.len(), i))
                .map(|i| &items[i]),
        ),
        (Step::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Step::Wildcard, Value::Array(items)) => out.extend(items.iter()),
        (Step::Slice(from, to), Value::Array(items)) => out.extend(
            slice_indices(items.len(), *from, *to)
                .into_iter()
                .map(|i| &items[i]),
        ),
        (Step::Filter(expr), Value::Array(items)) => {
            out.extend(items.iter().filter(|item| expr.matches(item, document)));
        }
        (Step::Filter(expr), Value::Object(_)) if expr.matches(value, document) => {
            out.push(value);
        }
        (Step::Scan(inner), _) => scan(inner, value, document, out),
        _ => {}
    }
}

/// `..step`: applies `step` at every container in document order (a node, then each of
/// its children in turn), as Jayway's scan does. Iterative, so deep documents cannot
/// overflow the stack.
fn scan<'a>(step: &Step, value: &'a Value, document: &'a Value, out: &mut Vec<&'a Value>) {
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                match step {
                    // Jayway tests a scanned filter against each object itself.
                    Step::Filter(expr) => {
                        if expr.matches(node, document) {
                            out.push(node);
                        }
                    }
                    _ => apply_step(step, node, document, out),
                }
                stack.extend(map.values().rev());
            }
            Value::Array(items) => {
                if !matches!(step, Step::Filter(_)) {
                    apply_step(step, node, document, out);
                }
                stack.extend(items.iter().rev());
            }
            _ => {}
        }
    }
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "length" => Func::Length,
            "min" => Func::Min,
            "max" => Func::Max,
            "avg" => Func::Avg,
            "sum" => Func::Sum,
            "stddev" => Func::Stddev,
            "keys" => Func::Keys,
            "first" => Func::First,
            "last" => Func::Last,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Func::Length => "length",
            Func::Min => "min",
            Func::Max => "max",
            Func::Avg => "avg",
            Func::Sum => "sum",
            Func::Stddev => "stddev",
            Func::Keys => "keys",
            Func::First => "first",
            Func::Last => "last",
        }
    }

    /// `length()`/`keys()` give null where they do not apply, as Jayway does; `first()`/
    /// `last()` of nothing and aggregations over no numbers find nothing (`None`).
    fn apply(self, value: &Value) -> Option<Value> {
        match self {
            Func::Length => Some(match value {
                Value::Array(items) => Value::from(items.len()),
                Value::Object(map) => Value::from(map.len()),
                _ => Value::Null,
            }),
            Func::Keys => Some(match value {
                Value::Object(map) => map.keys().map(|k| Value::String(k.clone())).collect(),
                _ => Value::Null,
            }),
            Func::First => Some(value.as_array().and_then(|a| a.first()).cloned()?),
            Func::Last => Some(value.as_array().and_then(|a| a.last()).cloned()?),
            Func::Min | Func::Max | Func::Avg | Func::Sum | Func::Stddev => {
                let numbers: Vec<f64> =
                    value.as_array()?.iter().filter_map(Value::as_f64).collect();
                if numbers.is_empty() {
                    return None;
                }
                let count = numbers.len() as f64;
                let sum: f64 = numbers.iter().sum();
                // Jayway computes these as doubles, so 6 comes back as 6.0.
                let result = match self {
                    Func::Min => numbers.iter().copied().fold(f64::INFINITY, f64::min),
                    Func::Max => numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Func::Sum => sum,
                    Func::Avg => sum / count,
                    _ => {
                        let squares: f64 = numbers.iter().map(|x| x * x).sum();
                        (squares / count - (sum / count).powi(2)).max(0.0).sqrt()
                    }
                };
                Number::from_f64(result).map(Value::Number)
            }
        }
    }
}

impl Expr {
    fn matches(&self, at: &Value, document: &Value) -> bool {
        match self {
            Expr::Or(terms) => terms.iter().any(|t| t.matches(at, document)),
            Expr::And(terms) => terms.iter().all(|t| t.matches(at, document)),
            Expr::Not(inner) => !inner.matches(at, document),
            Expr::Exists(path) => match path.eval(at, document) {
                // An indefinite path "exists" when it finds something.
                Some(Cow::Owned(Value::Array(items)))
                    if !path.body.prefix_definite && path.body.func.is_none() =>
                {
                    !items.is_empty()
                }
                Some(_) => true,
                None => false,
            },
            Expr::Compare(left, op, right) => {
                let left = left.eval(at, document);
                let right = right.eval(at, document);
                compare(left.as_deref(), *op, right.as_deref())
            }
        }
    }
}

impl SubPath {
    fn eval<'a>(&self, at: &'a Value, document: &'a Value) -> Option<Cow<'a, Value>> {
        let start = if self.from_document { document } else { at };
        self.body.eval(start, document)
    }
}

impl Operand {
    fn eval<'a>(&'a self, at: &'a Value, document: &'a Value) -> Option<Cow<'a, Value>> {
        match self {
            Operand::Literal(value) => Some(Cow::Borrowed(value)),
            Operand::Path(path) => path.eval(at, document),
        }
    }
}

/// Jayway's relational semantics: a missing operand equals nothing (so `!=` holds);
/// ordering applies only to two numbers or two strings.
fn compare(left: Option<&Value>, op: Op, right: Option<&Value>) -> bool {
    match op {
        Op::Eq => equal(left, right),
        Op::Ne => !equal(left, right),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = match (left, right) {
                (Some(Value::Number(a)), Some(Value::Number(b))) => number_cmp(a, b),
                (Some(Value::String(a)), Some(Value::String(b))) => Some(a.cmp(b)),
                _ => None,
            };
            match (ordering, op) {
                (Some(o), Op::Lt) => o == Ordering::Less,
                (Some(o), Op::Le) => o != Ordering::Greater,
                (Some(o), Op::Gt) => o == Ordering::Greater,
                (Some(o), Op::Ge) => o != Ordering::Less,
                _ => false,
            }
        }
    }
}

fn equal(left: Option<&Value>, right: Option<&Value>) -> bool {
    match (left, right) {
        (None, None) => true,
        (Some(Value::Number(a)), Some(Value::Number(b))) => {
            number_cmp(a, b) == Some(Ordering::Equal)
        }
        // Jayway coerces between number and string nodes when testing equality.
        (Some(Value::Number(n)), Some(Value::String(s)))
        | (Some(Value::String(s)), Some(Value::Number(n))) => {
            match (s.trim().parse::<f64>(), n.as_f64()) {
                (Ok(a), Some(b)) => a == b,
                _ => false,
            }
        }
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Exact for integers, via f64 otherwise (Jayway uses BigDecimal).
fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A whole path: dot names run to the next `.`, `[` or `(`.
    Top,
    /// A path embedded in other syntax: names also stop at operators, `,`, `)`, whitespace.
    Embedded,
}

struct Parser<'s> {
    /// The (trimmed) text being parsed; positions index into it.
    text: &'s str,
    /// As the caller wrote it, for error messages.
    original: &'s str,
    pos: usize,
}

impl<'s> Parser<'s> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + offset).copied()
    }

    fn current_char(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn error(&self, reason: impl Into<String>) -> PathError {
        PathError {
            text: self.original.to_string(),
            reason: reason.into(),
        }
    }

    fn unexpected(&self, context: &str) -> PathError {
        match self.current_char() {
            None => self.error(format!("unexpected end of path {context}")),
            Some(']') => self.error(format!(
                "unbalanced bracket: unexpected ']' at position {} {context}",
                self.pos
            )),
            Some(c) => self.error(format!(
                "unexpected character '{c}' at position {} {context}",
                self.pos
            )),
        }
    }

    fn unclosed(&self, open: usize) -> PathError {
        self.error(format!(
            "unbalanced bracket: '[' at position {open} is never closed"
        ))
    }

    fn parse_path(&mut self, mode: Mode) -> Result<Path, PathError> {
        if self.peek() != Some(b'$') {
            return Err(self.error("a path must start with '$'"));
        }
        self.pos += 1;
        let root = match self.peek() {
            Some(b'$') => {
                self.pos += 1;
                Root::Context
            }
            Some(b) if b == b'_' || b.is_ascii_alphabetic() || b >= 0x80 => {
                let start = self.pos;
                while let Some(c) = self.current_char() {
                    if c == '_' || c.is_alphanumeric() {
                        self.pos += c.len_utf8();
                    } else {
                        break;
                    }
                }
                let name = &self.text[start..self.pos];
                if !name.starts_with(|c: char| c == '_' || c.is_alphabetic()) {
                    return Err(self.error(format!("invalid variable name after '$' at {start}")));
                }
                Root::Variable(name.to_string())
            }
            _ => Root::Input,
        };
        let body = self.parse_body(mode, 0)?;
        let definite = body.prefix_definite;
        Ok(Path {
            text: self.original.to_string(),
            root,
            body,
            definite,
        })
    }

    /// Steps up to the end, or (embedded) up to the first character that cannot continue
    /// a path.
    fn parse_body(&mut self, mode: Mode, depth: usize) -> Result<Body, PathError> {
        let mut steps = Vec::new();
        let mut func = None;
        loop {
            let start = self.pos;
            match self.peek() {
                None => break,
                Some(b'.') if self.peek_at(1) == Some(b'.') => {
                    self.pos += 2;
                    let inner = match self.peek() {
                        None => return Err(self.error("a path must not end with '..'")),
                        Some(b'.') => return Err(self.unexpected("after '..'")),
                        Some(b'[') => self.parse_bracket(depth)?,
                        _ => {
                            let name = self.read_name(mode)?;
                            if name.is_empty() {
                                return Err(self.error(format!("empty name after '..' at {start}")));
                            }
                            if self.peek() == Some(b'(') {
                                return Err(self.error("a function cannot follow '..'"));
                            }
                            if name == "*" {
                                Step::Wildcard
                            } else {
                                Step::Field(name.to_string())
                            }
                        }
                    };
                    steps.push(Step::Scan(Box::new(inner)));
                }
                Some(b'.') => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(self.error("a path must not end with '.'")),
                        // Jayway accepts `$.['a']` as `$['a']`.
                        Some(b'[') => steps.push(self.parse_bracket(depth)?),
                        _ => {
                            let name = self.read_name(mode)?;
                            if name.is_empty() {
                                return Err(self.error(format!("empty name after '.' at {start}")));
                            }
                            if self.peek() == Some(b'(') {
                                func = Some(self.parse_function(name)?);
                                if matches!(self.peek(), Some(b'.' | b'[')) {
                                    return Err(
                                        self.error("a function must be the last step of a path")
                                    );
                                }
                                break;
                            }
                            steps.push(if name == "*" {
                                Step::Wildcard
                            } else {
                                Step::Field(name.to_string())
                            });
                        }
                    }
                }
                Some(b'[') => steps.push(self.parse_bracket(depth)?),
                Some(_) => match mode {
                    Mode::Embedded => break,
                    Mode::Top => return Err(self.unexpected("(expected '.' or '[')")),
                },
            }
        }
        let last = steps.len().saturating_sub(1);
        let prefix_definite = steps.iter().enumerate().all(|(i, s)| match s {
            Step::Field(_) | Step::Index(_) => true,
            // A leaf union is merged into one object, which Jayway counts as definite.
            Step::Fields(_) => i == last && func.is_none(),
            _ => false,
        });
        Ok(Body {
            steps,
            func,
            prefix_definite,
        })
    }

    /// A dot-notation name: permissive, as Jayway is, up to the next delimiter.
    fn read_name(&mut self, mode: Mode) -> Result<&'s str, PathError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            let stop = match mode {
                Mode::Top => matches!(b, b'.' | b'[' | b'('),
                Mode::Embedded => {
                    matches!(
                        b,
                        b'.' | b'['
                            | b'('
                            | b')'
                            | b']'
                            | b','
                            | b'='
                            | b'!'
                            | b'<'
                            | b'>'
                            | b'&'
                            | b'|'
                    ) || b.is_ascii_whitespace()
                }
            };
            if stop {
                break;
            }
            // Jayway would take `]` into the name; a stray `]` is far likelier a typo.
            if b == b']' {
                return Err(self.unexpected("in a name"));
            }
            if b.is_ascii_whitespace() {
                return Err(self.error(format!(
                    "whitespace in a name at position {}; use bracket notation ['...']",
                    self.pos
                )));
            }
            self.pos += 1;
        }
        // Delimiters are ASCII, so both ends are char boundaries.
        Ok(&self.text[start..self.pos])
    }

    /// `name()` after a dot; only Jayway's argument-less functions are supported.
    fn parse_function(&mut self, name: &str) -> Result<Func, PathError> {
        let func = Func::from_name(name)
            .ok_or_else(|| self.error(format!("unknown function '{name}()'")))?;
        self.pos += 1; // '('
        self.skip_ws();
        match self.peek() {
            Some(b')') => {
                self.pos += 1;
                Ok(func)
            }
            None => Err(self.error(format!("unbalanced parenthesis in '{name}('"))),
            Some(_) => Err(self.error(format!(
                "function arguments are not supported ('{name}()' takes none)"
            ))),
        }
    }

    fn parse_bracket(&mut self, depth: usize) -> Result<Step, PathError> {
        let open = self.pos;
        self.pos += 1;
        self.skip_ws();
        match self.peek() {
            None => Err(self.unclosed(open)),
            Some(b'?') => {
                self.pos += 1;
                self.skip_ws();
                if self.peek() != Some(b'(') {
                    return Err(self.error(format!("expected '(' after '[?' at {open}")));
                }
                self.pos += 1;
                let expr = self.parse_or(depth + 1)?;
                self.skip_ws();
                match self.peek() {
                    Some(b')') => self.pos += 1,
                    None => return Err(self.error("unbalanced parenthesis in filter")),
                    Some(_) => return Err(self.unexpected("in filter")),
                }
                self.close(open)?;
                Ok(Step::Filter(Box::new(expr)))
            }
            Some(b'*') => {
                self.pos += 1;
                self.close(open)?;
                Ok(Step::Wildcard)
            }
            Some(b'\'' | b'"') => {
                let mut names = Vec::new();
                loop {
                    names.push(self.parse_string()?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_ws();
                            if !matches!(self.peek(), Some(b'\'' | b'"')) {
                                return Err(self.unexpected("(expected a quoted name after ',')"));
                            }
                        }
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        None => return Err(self.unclosed(open)),
                        Some(_) => return Err(self.unexpected("inside brackets")),
                    }
                }
                Ok(if names.len() == 1 {
                    Step::Field(names.remove(0))
                } else {
                    Step::Fields(names)
                })
            }
            Some(b'-' | b'0'..=b'9' | b':') => self.parse_indexes(open),
            Some(_) => Err(self.unexpected("after '['")),
        }
    }

    fn close(&mut self, open: usize) -> Result<(), PathError> {
        self.skip_ws();
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(())
            }
            None => Err(self.unclosed(open)),
            Some(_) => Err(self.unexpected("inside brackets")),
        }
    }

    /// `[n]`, `[n,m]`, `[a:b]`, `[a:]`, `[:b]`.
    fn parse_indexes(&mut self, open: usize) -> Result<Step, PathError> {
        let first = if self.peek() == Some(b':') {
            None
        } else {
            Some(self.parse_int()?)
        };
        self.skip_ws();
        match (self.peek(), first) {
            (Some(b':'), _) => {
                self.pos += 1;
                self.skip_ws();
                let end = if matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
                    Some(self.parse_int()?)
                } else {
                    None
                };
                self.skip_ws();
                if self.peek() == Some(b':') {
                    return Err(self.error("slice steps ('[a:b:c]') are not supported"));
                }
                self.close(open)?;
                if first.is_none() && end.is_none() {
                    return Err(self.error("a slice needs a start or an end ('[:]')"));
                }
                Ok(Step::Slice(first, end))
            }
            (_, Some(first)) => {
                let mut indexes = vec![first];
                while self.peek() == Some(b',') {
                    self.pos += 1;
                    self.skip_ws();
                    indexes.push(self.parse_int()?);
                    self.skip_ws();
                }
                self.close(open)?;
                Ok(if indexes.len() == 1 {
                    Step::Index(first)
                } else {
                    Step::Indexes(indexes)
                })
            }
            (_, None) => Err(self.unexpected("inside brackets")),
        }
    }

    fn parse_int(&mut self) -> Result<i64, PathError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(self.unexpected("(expected a number)"));
        }
        self.text[start..self.pos]
            .parse()
            .map_err(|_| self.error(format!("index out of range at position {start}")))
    }

    /// A single- or double-quoted string. As in Jayway, a backslash only escapes the quote
    /// itself; any other backslash stays in the name (conformance:
    /// `test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]`: `$['Test\""Name"']`).
    fn parse_string(&mut self) -> Result<String, PathError> {
        let start = self.pos;
        let quote = self.text.as_bytes()[start] as char;
        let mut out = String::new();
        let mut chars = self.text[start + 1..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if chars.peek().is_some_and(|&(_, next)| next == quote) => {
                    chars.next();
                    out.push(quote);
                }
                c if c == quote => {
                    self.pos = start + 1 + i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err(self.error(format!("unterminated string starting at position {start}")))
    }

    fn check_depth(&self, depth: usize) -> Result<(), PathError> {
        if depth > MAX_DEPTH {
            Err(self.error(format!("filter nested too deeply (limit {MAX_DEPTH})")))
        } else {
            Ok(())
        }
    }

    fn parse_or(&mut self, depth: usize) -> Result<Expr, PathError> {
        self.check_depth(depth)?;
        let mut terms = vec![self.parse_and(depth)?];
        loop {
            self.skip_ws();
            if self.text[self.pos..].starts_with("||") {
                self.pos += 2;
                terms.push(self.parse_and(depth)?);
            } else {
                break;
            }
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn parse_and(&mut self, depth: usize) -> Result<Expr, PathError> {
        let mut terms = vec![self.parse_unary(depth)?];
        loop {
            self.skip_ws();
            if self.text[self.pos..].starts_with("&&") {
                self.pos += 2;
                terms.push(self.parse_unary(depth)?);
            } else {
                break;
            }
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn parse_unary(&mut self, depth: usize) -> Result<Expr, PathError> {
        self.check_depth(depth)?;
        self.skip_ws();
        match self.peek() {
            Some(b'!') if self.peek_at(1) != Some(b'=') => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.parse_unary(depth + 1)?)))
            }
            Some(b'(') => {
                self.pos += 1;
                let expr = self.parse_or(depth + 1)?;
                self.skip_ws();
                match self.peek() {
                    Some(b')') => {
                        self.pos += 1;
                        Ok(expr)
                    }
                    None => Err(self.error("unbalanced parenthesis in filter")),
                    Some(_) => Err(self.unexpected("in filter")),
                }
            }
            _ => self.parse_comparison(depth),
        }
    }

    fn parse_comparison(&mut self, depth: usize) -> Result<Expr, PathError> {
        let left = self.parse_operand(depth)?;
        self.skip_ws();
        let rest = &self.text[self.pos..];
        let (op, len) = if rest.starts_with("==") {
            (Op::Eq, 2)
        } else if rest.starts_with("!=") {
            (Op::Ne, 2)
        } else if rest.starts_with("<=") {
            (Op::Le, 2)
        } else if rest.starts_with(">=") {
            (Op::Ge, 2)
        } else if rest.starts_with('<') {
            (Op::Lt, 1)
        } else if rest.starts_with('>') {
            (Op::Gt, 1)
        } else if rest.starts_with("=~") {
            return Err(self.error("regular expressions ('=~') are not supported in filters"));
        } else if rest.starts_with('=') {
            return Err(self.error(format!("use '==' for equality (position {})", self.pos)));
        } else if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            return Err(self.error(format!("unsupported filter operator '{word}'")));
        } else {
            return match left {
                Operand::Path(path) => Ok(Expr::Exists(path)),
                Operand::Literal(_) => Err(self.unexpected("(expected a comparison operator)")),
            };
        };
        self.pos += len;
        let right = self.parse_operand(depth)?;
        Ok(Expr::Compare(left, op, right))
    }

    fn parse_operand(&mut self, depth: usize) -> Result<Operand, PathError> {
        self.skip_ws();
        match self.peek() {
            Some(b'@') => {
                self.pos += 1;
                let body = self.parse_body(Mode::Embedded, depth + 1)?;
                Ok(Operand::Path(SubPath {
                    from_document: false,
                    body,
                }))
            }
            Some(b'$') => {
                self.pos += 1;
                if self
                    .peek()
                    .is_some_and(|b| b == b'$' || b == b'_' || b.is_ascii_alphanumeric())
                {
                    return Err(self.error("only '@' and '$' paths may appear in a filter"));
                }
                let body = self.parse_body(Mode::Embedded, depth + 1)?;
                Ok(Operand::Path(SubPath {
                    from_document: true,
                    body,
                }))
            }
            Some(b'\'' | b'"') => Ok(Operand::Literal(Value::String(self.parse_string()?))),
            Some(b'-' | b'0'..=b'9') => self.parse_number().map(Operand::Literal),
            Some(b) if b.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "true" => Ok(Operand::Literal(Value::Bool(true))),
                    "false" => Ok(Operand::Literal(Value::Bool(false))),
                    "null" => Ok(Operand::Literal(Value::Null)),
                    word => Err(self.error(format!("unexpected '{word}' in filter at {start}"))),
                }
            }
            None => Err(self.error("unbalanced parenthesis: filter is never closed")),
            Some(_) => Err(self.unexpected("in filter (expected a value or '@')")),
        }
    }

    fn parse_number(&mut self) -> Result<Value, PathError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        if bytes.get(end) == Some(&b'-') {
            end += 1;
        }
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let mut float = false;
        if bytes.get(end) == Some(&b'.') {
            float = true;
            end += 1;
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            float = true;
            end += 1;
            if matches!(bytes.get(end), Some(b'+' | b'-')) {
                end += 1;
            }
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
        }
        let literal = &self.text[start..end];
        self.pos = end;
        let bad = || self.error(format!("invalid number '{literal}' at position {start}"));
        if !float {
            if let Ok(n) = literal.parse::<i64>() {
                return Ok(Value::from(n));
            }
        }
        literal
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_found_in_small_and_large_objects_alike() {
        for size in [1, SMALL_OBJECT, SMALL_OBJECT + 1, 40] {
            let mut object: Map<String, Value> =
                (0..size).map(|i| (format!("k{i}"), json!(i))).collect();
            let last = format!("k{}", size - 1);
            assert_eq!(field(&object, &last), Some(&json!(size - 1)), "size {size}");
            assert_eq!(
                field(&object, "k"),
                None,
                "a prefix is not a name (size {size})"
            );
            let path = Path::parse(&format!("$.{last}")).expect("valid");
            let whole = Value::Object(object.clone());
            assert_eq!(path.select(&whole).unwrap().as_ref(), &json!(size - 1));
            *field_mut(&mut object, "k0").expect("present") = json!("new");
            let mut value = Value::Object(object);
            Path::parse("$.k0.deep")
                .expect("valid")
                .assign(&mut value, json!(true))
                .expect_err("k0 is a string now");
            Path::parse("$.fresh.deep")
                .expect("valid")
                .assign(&mut value, json!(true))
                .expect("a missing member is created");
            assert_eq!(value["fresh"]["deep"], json!(true));
            assert_eq!(value["k0"], json!("new"));
        }
    }

    #[track_caller]
    fn sel(path: &str, input: Value, expected: Value) {
        let parsed = Path::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        match parsed.select(&input) {
            Ok(got) => assert_eq!(got.into_owned(), expected, "{path}"),
            Err(m) => panic!("{path}: {}", m.message()),
        }
    }

    #[track_caller]
    fn missing(path: &str, input: Value, message: &str) {
        let parsed = Path::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        match parsed.select(&input) {
            Ok(got) => panic!("{path}: expected missing, got {got}"),
            Err(m) => assert_eq!(m.message(), message, "{path}"),
        }
    }

    #[track_caller]
    fn bad(path: &str, reason: &str) {
        match Path::parse(path) {
            Ok(p) => panic!("expected an error, parsed {:.200}", format!("{p:?}")),
            Err(e) => {
                assert_eq!(e.text, path);
                assert!(
                    e.reason.contains(reason),
                    "{path}: reason was '{}'",
                    e.reason
                );
            }
        }
    }

    #[track_caller]
    fn definite(path: &str, expected: bool) {
        assert_eq!(Path::parse(path).unwrap().is_definite(), expected, "{path}");
    }

    #[track_caller]
    fn render(path: &str, expected: &str) {
        assert_eq!(
            Path::parse(path).unwrap().render_jayway(),
            expected,
            "{path}"
        );
    }

    #[track_caller]
    fn root(path: &str, expected: Root) {
        assert_eq!(Path::parse(path).unwrap().root(), &expected, "{path}");
    }

    #[track_caller]
    fn assign(path: &str, mut target: Value, value: Value, expected: Value) {
        let parsed = Path::parse(path).unwrap();
        parsed
            .assign(&mut target, value)
            .unwrap_or_else(|m| panic!("{path}: {}", m.message()));
        assert_eq!(target, expected, "{path}");
    }

    #[track_caller]
    fn assign_err(path: &str, mut target: Value, message: &str) {
        let before = target.clone();
        let parsed = Path::parse(path).unwrap();
        match parsed.assign(&mut target, json!("x")) {
            Ok(()) => panic!("{path}: expected an error, got {target}"),
            Err(m) => assert_eq!(m.message(), message, "{path}"),
        }
        assert_eq!(target, before, "{path}: a failed assign changed the target");
    }

    fn store() -> Value {
        json!({
            "store": {
                "book": [
                    {"category": "reference", "author": "Rees", "title": "Sayings", "price": 8.95},
                    {"category": "fiction", "author": "Waugh", "title": "Sword", "price": 12.99},
                    {"category": "fiction", "author": "Melville", "title": "Moby", "isbn": "0-553", "price": 8.99},
                    {"category": "fiction", "author": "Tolkien", "title": "Lord", "isbn": "0-395", "price": 22.99}
                ],
                "bicycle": {"color": "red", "price": 19.95}
            },
            "expensive": 10
        })
    }

    // Roots.

    #[test]
    fn roots() {
        root("$", Root::Input);
        root("$.a", Root::Input);
        root("$$", Root::Context);
        root("$$.Execution.Id", Root::Context);
        root("$myVar", Root::Variable("myVar".into()));
        root("$my_var2.field[0]", Root::Variable("my_var2".into()));
        root("$_x", Root::Variable("_x".into()));
        bad("a.b", "must start with '$'");
        bad("", "must start with '$'");
        bad("@.a", "must start with '$'");
        bad("$1abc", "unexpected character '1'");
        bad("$$x", "unexpected character 'x'");
        bad("$-", "unexpected character '-'");
    }

    #[test]
    fn variable_paths_select_from_the_given_value() {
        sel("$myVar", json!({"a": 1}), json!({"a": 1}));
        sel("$myVar.field[0]", json!({"field": [7, 8]}), json!(7));
        sel(
            "$$.Execution.Id",
            json!({"Execution": {"Id": "x"}}),
            json!("x"),
        );
        render("$myVar.field[0]", "$myVar['field'][0]");
        render("$$.Execution.Id", "$$['Execution']['Id']");
    }

    // Dot and bracket names.

    #[test]
    fn dot_names() {
        sel("$", json!({"a": 1}), json!({"a": 1}));
        sel("$.a", json!({"a": 1}), json!(1));
        sel("$.a.b.c", json!({"a": {"b": {"c": [1]}}}), json!([1]));
        sel("$.a-b", json!({"a-b": 1}), json!(1));
        sel("$.my_field", json!({"my_field": 2}), json!(2));
        sel("$.1abc", json!({"1abc": 3}), json!(3));
        sel("$.a:b", json!({"a:b": 4}), json!(4));
        sel("$.é", json!({"é": 5}), json!(5));
        sel("$.a$b", json!({"a$b": 6}), json!(6));
        sel("$.a.null", json!({"a": {"null": 7}}), json!(7));
        sel("$.a", json!({"a": null}), json!(null));
        sel("  $.a  ", json!({"a": 1}), json!(1));
    }

    #[test]
    fn bracket_names() {
        sel("$['a']", json!({"a": 1}), json!(1));
        sel("$[\"a\"]", json!({"a": 1}), json!(1));
        sel("$['a b']", json!({"a b": 1}), json!(1));
        sel("$['a.b']", json!({"a.b": 1, "a": {"b": 2}}), json!(1));
        sel("$['a]b']", json!({"a]b": 1}), json!(1));
        sel("$['it\\'s']", json!({"it's": 1}), json!(1));
        sel("$[\"say \\\"hi\\\"\"]", json!({"say \"hi\"": 1}), json!(1));
        // Other backslashes are kept, as AWS keeps them.
        sel("$['tab\\there']", json!({"tab\\there": 1}), json!(1));
        sel(
            "$['Test\\\"\"Name\"']",
            json!({"Test\\\"\"Name\"": 1}),
            json!(1),
        );
        sel("$['']", json!({"": 9}), json!(9));
        sel("$[ 'a' ]", json!({"a": 1}), json!(1));
        sel("$.['a']", json!({"a": 1}), json!(1));
        sel("$['a'].b['c']", json!({"a": {"b": {"c": 3}}}), json!(3));
        render("$['a b'].c", "$['a b']['c']");
    }

    // Indexes, negative indexes, slices, unions.

    #[test]
    fn indexes() {
        let input = json!({"items": [10, 20, 30]});
        sel("$.items[0]", input.clone(), json!(10));
        sel("$.items[2]", input.clone(), json!(30));
        sel("$.items[-1]", input.clone(), json!(30));
        sel("$.items[-3]", input.clone(), json!(10));
        sel("$.items[ 1 ]", input.clone(), json!(20));
        sel("$[0][1]", json!([[1, 2]]), json!(2));
        missing(
            "$.items[3]",
            input.clone(),
            "No results for path: $['items'][3]",
        );
        missing(
            "$.items[10]",
            input.clone(),
            "No results for path: $['items'][10]",
        );
        missing(
            "$.items[-4]",
            input.clone(),
            "No results for path: $['items'][-4]",
        );
        missing(
            "$.items[0]",
            json!({"items": {"0": 1}}),
            "No results for path: $['items'][0]",
        );
        missing(
            "$.items[0].x",
            json!({"items": []}),
            "No results for path: $['items'][0]['x']",
        );
    }

    #[test]
    fn slices_follow_jayway() {
        let input = json!({"a": [0, 1, 2, 3, 4]});
        sel("$.a[1:3]", input.clone(), json!([1, 2]));
        sel("$.a[1:]", input.clone(), json!([1, 2, 3, 4]));
        sel("$.a[:2]", input.clone(), json!([0, 1]));
        sel("$.a[-2:]", input.clone(), json!([3, 4]));
        sel("$.a[:-2]", input.clone(), json!([0, 1, 2]));
        sel("$.a[-10:]", input.clone(), json!([0, 1, 2, 3, 4]));
        sel("$.a[:10]", input.clone(), json!([0, 1, 2, 3, 4]));
        sel("$.a[3:100]", input.clone(), json!([3, 4]));
        sel("$.a[5:]", input.clone(), json!([]));
        sel("$.a[3:1]", input.clone(), json!([]));
        sel("$.a[:-10]", input.clone(), json!([]));
        // Jayway leaves a negative end unresolved in [a:b] …
        sel("$.a[0:-1]", input.clone(), json!([]));
        // … and walks a negative start around the end.
        sel("$.a[-2:1]", input.clone(), json!([3, 4, 0]));
        sel(
            "$.a[-99999999999:1]",
            input.clone(),
            json!([0, 1, 2, 3, 4, 0]),
        );
        sel("$.a[1:3]", json!({"a": []}), json!([]));
        sel("$.a[1:3]", json!({"a": "str"}), json!([]));
        sel("$.item.items[1:5].itemValue", json!({}), json!([]));
        sel(
            "$.items[1:3].v",
            json!({"items": [{"v": 1}, {"v": 2}, {}, {"v": 4}]}),
            json!([2]),
        );
    }

    #[test]
    fn unions() {
        let input = json!({"a": [0, 1, 2, 3]});
        sel("$.a[0,2]", input.clone(), json!([0, 2]));
        sel("$.a[3, 0, -1]", input.clone(), json!([3, 0, 3]));
        sel("$.a[1,9]", input.clone(), json!([1]));
        let obj = json!({"a": 1, "b": 2, "c": 3});
        // A last-step property union is merged into one object, as Jayway does.
        sel("$['a','c']", obj.clone(), json!({"a": 1, "c": 3}));
        sel("$['c', \"a\"]", obj.clone(), json!({"c": 3, "a": 1}));
        sel("$['a','zz']", obj.clone(), json!({"a": 1}));
        sel("$['y','zz']", obj, json!({}));
        missing(
            "$.x['a','b']",
            json!({"x": 1}),
            "No results for path: $['x']['a','b']",
        );
        // Not last: each property is followed in turn.
        sel(
            "$['a','b'].v",
            json!({"a": {"v": 1}, "b": {"v": 2}}),
            json!([1, 2]),
        );
        sel(
            "$[*]['n','m']",
            json!([{"n": 1, "m": 2, "o": 3}, {"n": 4}, 5]),
            json!([{"n": 1, "m": 2}, {"n": 4}]),
        );
        render("$['a','b']", "$['a','b']");
        render("$[0,1]", "$[0,1]");
    }

    // Wildcards and deep scan.

    #[test]
    fn wildcards() {
        sel("$.*", json!({"a": 1, "b": [2]}), json!([1, [2]]));
        sel("$[*]", json!([1, 2, 3]), json!([1, 2, 3]));
        sel(
            "$.a[*].b",
            json!({"a": [{"b": 1}, {"c": 2}, {"b": 3}]}),
            json!([1, 3]),
        );
        sel(
            "$.a.*.b",
            json!({"a": {"x": {"b": 1}, "y": {"b": 2}}}),
            json!([1, 2]),
        );
        sel("$.a[*]", json!({"a": 5}), json!([]));
        sel("$.nothing[*]", json!({}), json!([]));
        sel("$[ * ]", json!([1]), json!([1]));
        sel("$.*x", json!({"*x": 1}), json!(1));
        render("$.a.*", "$['a'][*]");
    }

    #[test]
    fn deep_scan() {
        sel(
            "$..author",
            store(),
            json!(["Rees", "Waugh", "Melville", "Tolkien"]),
        );
        sel(
            "$..price",
            store(),
            json!([8.95, 12.99, 8.99, 22.99, 19.95]),
        );
        sel(
            "$.store..price",
            store(),
            json!([8.95, 12.99, 8.99, 22.99, 19.95]),
        );
        sel("$..book[2].title", store(), json!(["Moby"]));
        sel("$..book[-1].title", store(), json!(["Lord"]));
        sel("$..['color']", store(), json!(["red"]));
        sel("$..a", json!({"a": {"a": 1}}), json!([{"a": 1}, 1]));
        // Pre-order: a node's own children, then each child's subtree.
        sel(
            "$..*",
            json!({"a": {"b": 1}, "c": 2}),
            json!([{"b": 1}, 2, 1]),
        );
        sel("$..[*]", json!([[1], 2]), json!([[1], 2, 1]));
        sel("$..[0]", json!({"x": [[1, 2], 3]}), json!([[1, 2], 1]));
        sel("$..nope", store(), json!([]));
        sel("$..x", json!(3), json!([]));
        render("$..author", "$..['author']");
        render("$..*", "$..[*]");
    }

    #[test]
    fn deep_scan_of_a_deep_document_does_not_overflow() {
        let mut value = json!({"leaf": 1});
        for _ in 0..100_000 {
            // Not `json!`, which would re-serialize (recursively) the value it wraps.
            let mut map = Map::new();
            map.insert("n".into(), value);
            value = Value::Object(map);
        }
        let found = Path::parse("$..leaf")
            .unwrap()
            .select(&value)
            .map(Cow::into_owned);
        assert_eq!(found, Ok(json!([1])));
        // serde_json drops recursively; unwind it by hand so the test itself cannot overflow.
        let mut current = value;
        while let Value::Object(mut map) = current {
            current = map.remove("n").unwrap_or(Value::Null);
        }
    }

    // Filters.

    #[test]
    fn filters_on_numbers() {
        sel(
            "$.store.book[?(@.price < 10)].title",
            store(),
            json!(["Sayings", "Moby"]),
        );
        sel(
            "$.store.book[?(@.price <= 8.95)].title",
            store(),
            json!(["Sayings"]),
        );
        sel(
            "$.store.book[?(@.price > 20)].title",
            store(),
            json!(["Lord"]),
        );
        sel(
            "$.store.book[?(@.price >= 12.99)].title",
            store(),
            json!(["Sword", "Lord"]),
        );
        sel(
            "$.store.book[?(@.price == 12.99)].title",
            store(),
            json!(["Sword"]),
        );
        sel(
            "$.store.book[?(@.price != 12.99)].title",
            store(),
            json!(["Sayings", "Moby", "Lord"]),
        );
        sel(
            "$.store.book[?(@.price > $.expensive)].title",
            store(),
            json!(["Sword", "Lord"]),
        );
        sel(
            "$[?(@.n == 1.0)]",
            json!([{"n": 1}, {"n": 2}]),
            json!([{"n": 1}]),
        );
        sel(
            "$[?(@.n == -2)]",
            json!([{"n": 1}, {"n": -2}]),
            json!([{"n": -2}]),
        );
        sel(
            "$[?(@.n > 1e1)]",
            json!([{"n": 11}, {"n": 2}]),
            json!([{"n": 11}]),
        );
        sel("$[?(@ > 2)]", json!([1, 2, 3, 4]), json!([3, 4]));
        sel(
            "$[?(@.n < 5)]",
            json!([{"n": "1"}, {"n": 3}]),
            json!([{"n": 3}]),
        );
        // Jayway coerces number and string for equality only.
        sel(
            "$[?(@.n == 1)]",
            json!([{"n": "1"}, {"n": "x"}]),
            json!([{"n": "1"}]),
        );
    }

    #[test]
    fn filters_on_strings_booleans_null() {
        sel(
            "$.store.book[?(@.category == 'reference')].author",
            store(),
            json!(["Rees"]),
        );
        sel(
            "$.store.book[?(@.category == \"fiction\")].author",
            store(),
            json!(["Waugh", "Melville", "Tolkien"]),
        );
        sel(
            "$.store.book[?(@.author > 'T')].author",
            store(),
            json!(["Waugh", "Tolkien"]),
        );
        sel(
            "$[?(@.ok == true)].id",
            json!([{"id": 1, "ok": true}, {"id": 2, "ok": false}]),
            json!([1]),
        );
        sel(
            "$[?(@.ok == false)].id",
            json!([{"id": 1, "ok": true}, {"id": 2, "ok": false}]),
            json!([2]),
        );
        sel(
            "$[?(@.v == null)].id",
            json!([{"id": 1, "v": null}, {"id": 2}, {"id": 3, "v": 0}]),
            json!([1]),
        );
        sel(
            "$[?(@.v == 'it\\'s')]",
            json!([{"v": "it's"}, {"v": "its"}]),
            json!([{"v": "it's"}]),
        );
        bad("$[?(@.t == [1])]", "expected a value");
    }

    #[test]
    fn filters_existence_and_logic() {
        sel(
            "$.store.book[?(@.isbn)].title",
            store(),
            json!(["Moby", "Lord"]),
        );
        sel(
            "$.store.book[?(!@.isbn)].title",
            store(),
            json!(["Sayings", "Sword"]),
        );
        sel(
            "$[?(@.v)].id",
            json!([{"id": 1, "v": false}, {"id": 2}, {"id": 3, "v": null}]),
            json!([1, 3]),
        );
        sel(
            "$.store.book[?(@.isbn && @.price < 10)].title",
            store(),
            json!(["Moby"]),
        );
        sel(
            "$.store.book[?(@.price < 9 || @.price > 20)].title",
            store(),
            json!(["Sayings", "Moby", "Lord"]),
        );
        sel(
            "$.store.book[?((@.price < 9 || @.price > 20) && @.isbn)].title",
            store(),
            json!(["Moby", "Lord"]),
        );
        sel(
            "$.store.book[?(@.price<9&&@.category=='fiction')].title",
            store(),
            json!(["Moby"]),
        );
        sel(
            "$.store.book[?(!(@.price < 10))].title",
            store(),
            json!(["Sword", "Lord"]),
        );
        // A missing operand equals nothing, so != holds, as in Jayway.
        sel(
            "$[?(@.v != 1)].id",
            json!([{"id": 1, "v": 1}, {"id": 2}]),
            json!([2]),
        );
        sel(
            "$[?(@.v < 1)].id",
            json!([{"id": 1, "v": 0}, {"id": 2}]),
            json!([1]),
        );
        sel(
            "$[?(@.a.b == 1)].id",
            json!([{"id": 1, "a": {"b": 1}}, {"id": 2, "a": 3}]),
            json!([1]),
        );
        sel(
            "$[?(@['x y'] == 1)].id",
            json!([{"id": 1, "x y": 1}]),
            json!([1]),
        );
        sel(
            "$[?(@.tags[0] == 'a')].id",
            json!([{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}]),
            json!([1]),
        );
        sel(
            "$[?(@.tags.length() > 1)].id",
            json!([{"id": 1, "tags": [1, 2]}, {"id": 2, "tags": [1]}]),
            json!([1]),
        );
        sel(
            "$[?(@.tags[?(@ == 2)])].id",
            json!([{"id": 1, "tags": [1, 2]}, {"id": 2, "tags": [1]}]),
            json!([1]),
        );
        sel(
            "$[?(@.x[*])].id",
            json!([{"id": 1, "x": [1]}, {"id": 2, "x": []}]),
            json!([1]),
        );
    }

    #[test]
    fn filters_on_objects_and_scans() {
        sel(
            "$.a[?(@.b == 1)]",
            json!({"a": {"b": 1}}),
            json!([{"b": 1}]),
        );
        sel("$.a[?(@.b == 2)]", json!({"a": {"b": 1}}), json!([]));
        sel("$.a[?(@.b == 1)]", json!({"a": 3}), json!([]));
        sel("$..[?(@.price > 20)].title", store(), json!(["Lord"]));
        sel("$..book[?(@.price > 20)].title", store(), json!(["Lord"]));
        render("$.a[?(@.b == 1)].c", "$['a'][?]['c']");
    }

    // Functions.

    #[test]
    fn functions() {
        sel("$.items.length()", json!({"items": [1, 2, 3]}), json!(3));
        sel("$.length()", json!([]), json!(0));
        sel("$.o.length()", json!({"o": {"a": 1, "b": 2}}), json!(2));
        sel("$.s.length()", json!({"s": "abc"}), json!(null));
        sel("$.a[*].length()", json!({"a": [1, 2]}), json!(2));
        sel("$..price.length()", store(), json!(5));
        sel("$.a.sum()", json!({"a": [1, 2, 3]}), json!(6.0));
        sel("$.a.avg()", json!({"a": [1, 2, 3]}), json!(2.0));
        sel("$.a.min()", json!({"a": [3, 1, 2]}), json!(1.0));
        sel("$.a.max()", json!({"a": [3, 1, "9"]}), json!(3.0));
        sel(
            "$.a.stddev()",
            json!({"a": [2, 4, 4, 4, 5, 5, 7, 9]}),
            json!(2.0),
        );
        sel(
            "$.o.keys()",
            json!({"o": {"x": 1, "y": 2}}),
            json!(["x", "y"]),
        );
        sel("$.a.first()", json!({"a": [1, 2]}), json!(1));
        sel("$.a.last()", json!({"a": [1, 2]}), json!(2));
        sel("$.a.length( )", json!({"a": [1]}), json!(1));
        missing(
            "$.a.sum()",
            json!({"a": []}),
            "No results for path: $['a'].sum()",
        );
        missing("$.a.length()", json!({}), "Missing property in path $['a']");
        definite("$.a.length()", true);
        definite("$.a[*].length()", false);
        render("$.a.length()", "$['a'].length()");
        bad("$.a.length().b", "last step");
        bad("$.a.length()[0]", "last step");
        bad("$.a.nope()", "unknown function 'nope()'");
        bad("$.a.concat('x')", "unknown function");
        bad("$.a.length(1)", "arguments are not supported");
        bad("$.a.length(", "unbalanced parenthesis");
        bad("$..length()", "cannot follow '..'");
        bad("$.(", "empty name");
    }

    // Definite vs indefinite, borrowing.

    #[test]
    fn definiteness() {
        definite("$", true);
        definite("$.a.b", true);
        definite("$['a'][0][-1]", true);
    }

    #[test]
    fn indefiniteness() {
        for path in [
            "$.*",
            "$[*]",
            "$..a",
            "$.a[1:2]",
            "$.a[:2]",
            "$[?(@.a)]",
            "$[0,1]",
            "$['a','b'].c",
            "$.a[*].b",
        ] {
            definite(path, false);
        }
        definite("$['a','b']", true);
    }

    #[test]
    fn definite_hits_borrow_and_indefinite_results_are_owned() {
        let input = json!({"a": {"b": [1, {"c": "x"}]}});
        let path = Path::parse("$.a.b[1].c").unwrap();
        match path.select(&input).unwrap() {
            Cow::Borrowed(v) => assert!(std::ptr::eq(v, &input["a"]["b"][1]["c"])),
            Cow::Owned(v) => panic!("cloned {v}"),
        }
        let root = Path::parse("$").unwrap();
        assert!(
            matches!(root.select(&input).unwrap(), Cow::Borrowed(v) if std::ptr::eq(v, &input))
        );
        let wild = Path::parse("$.a.b[*]").unwrap();
        assert!(
            matches!(wild.select(&input).unwrap(), Cow::Owned(Value::Array(ref a)) if a.len() == 2)
        );
    }

    // Missing: the Jayway messages AWS shows.

    #[test]
    fn missing_messages() {
        missing(
            "$.NoSuchInputPath",
            json!({}),
            "No results for path: $['NoSuchInputPath']",
        );
        missing(
            "$.no.such.result.path",
            json!({}),
            "Missing property in path $['no']",
        );
        missing(
            "$.a.no.such",
            json!({"a": {}}),
            "Missing property in path $['a']['no']",
        );
        missing(
            "$.a[0].b.c",
            json!({"a": [{}]}),
            "Missing property in path $['a'][0]['b']",
        );
        missing(
            "$.a[5].b",
            json!({"a": [{}]}),
            "No results for path: $['a'][5]['b']",
        );
        missing(
            "$.a.b",
            json!({"a": "text"}),
            "No results for path: $['a']['b']",
        );
        missing(
            "$.a.b.c",
            json!({"a": 1}),
            "Missing property in path $['a']['b']",
        );
        missing("$.a", json!([1]), "No results for path: $['a']");
        missing("$['x y']", json!({}), "No results for path: $['x y']");
        missing("$$.Nope", json!({}), "No results for path: $$['Nope']");
        let m = Path::parse("$.no.such")
            .unwrap()
            .select(&json!({}))
            .unwrap_err();
        assert_eq!(
            m,
            Missing {
                at: "$['no']".into(),
                missing_property: true
            }
        );
        assert_eq!(m.to_string(), m.message());
        let m = Path::parse("$.a").unwrap().select(&json!({})).unwrap_err();
        assert_eq!(
            m,
            Missing {
                at: "$['a']".into(),
                missing_property: false
            }
        );
    }

    // Rendering.

    #[test]
    fn renders_jayway_form() {
        render("$", "$");
        render("$.a.b[0]", "$['a']['b'][0]");
        render("$['a']['b'][0]", "$['a']['b'][0]");
        render("$.a[-1]", "$['a'][-1]");
        render("$.a[1:3]", "$['a'][1:3]");
        render("$.a[1:]", "$['a'][1:]");
        render("$.a[:3]", "$['a'][:3]");
        render("$[*].x", "$[*]['x']");
        assert_eq!(
            Path::parse("$.a .b".trim_end()).err().map(|e| e.text),
            Some("$.a .b".into())
        );
        assert_eq!(Path::parse(" $.a ").unwrap().as_str(), " $.a ");
    }

    // Assign (ResultPath).

    #[test]
    fn assign_replaces_and_creates() {
        assign("$", json!({"a": 1}), json!([1]), json!([1]));
        assign("$.r", json!({"a": 1}), json!(2), json!({"a": 1, "r": 2}));
        assign(
            "$.a",
            json!({"a": 1, "b": 2}),
            json!(9),
            json!({"a": 9, "b": 2}),
        );
        assign(
            "$.x.y.z",
            json!({}),
            json!(1),
            json!({"x": {"y": {"z": 1}}}),
        );
        assign(
            "$.x.y",
            json!({"x": {"k": 0}}),
            json!(1),
            json!({"x": {"k": 0, "y": 1}}),
        );
        assign(
            "$.a[1]",
            json!({"a": [0, 0]}),
            json!(5),
            json!({"a": [0, 5]}),
        );
        assign(
            "$.a[-1].b",
            json!({"a": [{}, {}]}),
            json!(5),
            json!({"a": [{}, {"b": 5}]}),
        );
        assign("$['a b']", json!({}), json!(1), json!({"a b": 1}));
        assign(
            "$.a",
            json!({"a": {"deep": [1]}}),
            json!(null),
            json!({"a": null}),
        );
        // Replacing keeps the key's position.
        let mut target = json!({"a": 1, "b": 2, "c": 3});
        Path::parse("$.b")
            .unwrap()
            .assign(&mut target, json!(0))
            .unwrap();
        assert_eq!(
            target.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn assign_errors() {
        assign_err(
            "$.a.b",
            json!({"a": "text"}),
            "No results for path: $['a']['b']",
        );
        assign_err(
            "$.a.b.c",
            json!({"a": 5}),
            "Missing property in path $['a']['b']",
        );
        assign_err("$.a", json!("text"), "No results for path: $['a']");
        assign_err("$.a", json!([1]), "No results for path: $['a']");
        assign_err("$[3]", json!([1]), "No results for path: $[3]");
        assign_err("$[0]", json!({"a": 1}), "No results for path: $[0]");
        assign_err(
            "$.a[2]",
            json!({"a": [1]}),
            "No results for path: $['a'][2]",
        );
        assign_err(
            "$.a[0].b",
            json!({"a": []}),
            "Missing property in path $['a'][0]",
        );
        assign_err("$.a[0]", json!({"a": {}}), "No results for path: $['a'][0]");
        assign_err("$.a[0]", json!({}), "No results for path: $['a'][0]");
        assign_err("$.x.y[0]", json!({}), "No results for path: $['x']['y'][0]");
        assign_err(
            "$.ok.x[0].z",
            json!({"ok": 1}),
            "Missing property in path $['ok']['x']",
        );
        assign_err(
            "$.a[*]",
            json!({"a": [1]}),
            "No results for path: $['a'][*]",
        );
        assign_err("$..a", json!({}), "No results for path: $..['a']");
        assign_err(
            "$.a.length()",
            json!({"a": []}),
            "No results for path: $['a'].length()",
        );
        assert!(Path::parse("$.a[0]['b']").unwrap().is_reference());
        assert!(!Path::parse("$['a','b']").unwrap().is_reference());
    }

    // Parse errors.

    #[test]
    fn parse_errors() {
        bad("$.a[", "unbalanced bracket");
        bad("$.a[0", "unbalanced bracket");
        bad("$['a'", "unbalanced bracket");
        bad("$['a", "unterminated string");
        bad("$['a',", "unexpected end");
        bad("$['a','b'", "unbalanced bracket");
        bad("$[?(@.a == 1)", "unbalanced bracket");
        bad("$[?(@.a == 1]", "unexpected ']'");
        bad("$[?(@.a == 1", "unbalanced parenthesis");
        bad("$['a']]", "unbalanced bracket");
        bad("$.", "must not end with '.'");
        bad("$.a.", "must not end with '.'");
        bad("$..", "must not end with '..'");
        bad("$...a", "after '..'");
        bad("$['a']x", "unexpected character 'x'");
        bad("$[0]x", "unexpected character 'x'");
        bad("$.a b", "whitespace in a name");
        bad("$[]", "unexpected ']'");
        bad("$[a]", "unexpected character 'a'");
        bad("$[--1]", "expected a number");
        bad("$[1,]", "expected a number");
        bad("$[1 2]", "unexpected character '2'");
        bad("$[:]", "needs a start or an end");
        bad("$[0:4:2]", "slice steps");
        bad("$[99999999999999999999]", "index out of range");
        bad("$[?@.a]", "expected '('");
        bad("$[?()]", "unexpected character ')'");
        bad("$[?(@.a = 1)]", "use '=='");
        bad("$[?(@.a =~ /x/)]", "regular expressions");
        bad("$[?(@.a in [1])]", "unsupported filter operator 'in'");
        bad("$[?(1)]", "expected a comparison operator");
        bad("$[?(@.a == nope)]", "unexpected 'nope'");
        bad("$[?(@.a == $$.x)]", "only '@' and '$'");
        bad("$[?(@.a == )]", "expected a value");
        bad("$[?(@.a == 1 &&)]", "expected a value");
        bad("$[?(@.a == 1e999)]", "invalid number");
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        bad(
            &format!("${}", "[".repeat(10_000)),
            "unexpected character '['",
        );
        bad(
            &format!("$[?({}@.a{})]", "(".repeat(10_000), ")".repeat(10_000)),
            "nested too deeply",
        );
        bad(
            &format!("$[?({}@.a)]", "!".repeat(10_000)),
            "nested too deeply",
        );
        bad(&format!("${}", "[?(@".repeat(10_000)), "nested too deeply");
        bad(
            &format!("$['{}", "a".repeat(100_000)),
            "unterminated string",
        );
        bad(&format!("$.a{}", "]".repeat(5000)), "unbalanced bracket");
        // A long path and long names are fine.
        let name = "n".repeat(100_000);
        sel(&format!("$.{name}"), json!({ name.clone(): 1 }), json!(1));
        let long = "$".to_string() + &".a".repeat(10_000);
        assert_eq!(
            Path::parse(&long).unwrap().render_jayway().len(),
            1 + 5 * 10_000
        );
        missing(
            &long,
            json!({"a": {}}),
            "Missing property in path $['a']['a']",
        );
        // Moderate, legitimate nesting still parses.
        sel("$[?(((@.a == 1)))]", json!([{"a": 1}]), json!([{"a": 1}]));
    }

    #[test]
    fn no_input_panics() {
        // Every prefix of a rich path, and some byte soup, parses or errors without panicking.
        let rich =
            "$..book[?(@.price < 10 && !(@.isbn) || @['x y'] == 'it\\'s')][0,1][1:-1].é.length()";
        for end in (0..=rich.len()).filter(|&i| rich.is_char_boundary(i)) {
            let _ = Path::parse(&rich[..end]).map(|p| p.select(&store()).is_ok());
        }
        for garbage in [
            "$\u{0}",
            "$[\u{7f}]",
            "$['\\",
            "$[?(@.\u{e9}",
            "$[-]",
            "$[?(-)]",
            "$.a(",
            "$é",
            "$[?(@.a == 'x",
        ] {
            let _ = Path::parse(garbage);
        }
    }

    #[test]
    fn parse_prefix_stops_at_delimiters() {
        let (path, used) = Path::parse_prefix("$.a.b, 'x')").unwrap();
        assert_eq!((path.as_str(), used), ("$.a.b", 5));
        let (path, used) = Path::parse_prefix("$$.Execution.Id)").unwrap();
        assert_eq!((path.root(), used), (&Root::Context, 15));
        let (path, used) = Path::parse_prefix("$var[0] ").unwrap();
        assert_eq!((path.root(), used), (&Root::Variable("var".into()), 7));
        assert!(Path::parse_prefix("x").is_err());
    }
}

//! The `States.*` intrinsic functions: one parser for call expressions and one table,
//! name → arity → function. Paths inside arguments resolve through `IntrinsicEnv`, so this
//! module knows nothing of states.
//!
//! AWS semantics come from "Intrinsic functions for JSONPath states in Step Functions"
//! (docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html), cited below as
//! "the AWS page"; where it is silent we follow what AWS's Java runtime most plausibly does.

use crate::error::StatesError;
use crate::path::{Path, PathError};
use base64::Engine as _;
use serde_json::{Number, Value};
use std::collections::HashSet;

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
        ParseError { message: error.to_string() }
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

/// The one table of intrinsics, in the AWS page's order.
const FUNCTIONS: &[Function] = &[
    Function { name: "States.Format", min_args: 1, max_args: None, eval: format },
    Function { name: "States.StringToJson", min_args: 1, max_args: Some(1), eval: string_to_json },
    Function { name: "States.JsonToString", min_args: 1, max_args: Some(1), eval: json_to_string },
    Function { name: "States.Array", min_args: 0, max_args: None, eval: array },
    Function { name: "States.ArrayPartition", min_args: 2, max_args: Some(2), eval: array_partition },
    Function { name: "States.ArrayContains", min_args: 2, max_args: Some(2), eval: array_contains },
    Function { name: "States.ArrayRange", min_args: 3, max_args: Some(3), eval: array_range },
    Function { name: "States.ArrayGetItem", min_args: 2, max_args: Some(2), eval: array_get_item },
    Function { name: "States.ArrayLength", min_args: 1, max_args: Some(1), eval: array_length },
    Function { name: "States.ArrayUnique", min_args: 1, max_args: Some(1), eval: array_unique },
    Function { name: "States.Base64Encode", min_args: 1, max_args: Some(1), eval: base64_encode },
    Function { name: "States.Base64Decode", min_args: 1, max_args: Some(1), eval: base64_decode },
    Function { name: "States.Hash", min_args: 2, max_args: Some(2), eval: hash },
    Function { name: "States.JsonMerge", min_args: 3, max_args: Some(3), eval: json_merge },
    Function { name: "States.MathRandom", min_args: 2, max_args: Some(3), eval: math_random },
    Function { name: "States.MathAdd", min_args: 2, max_args: Some(2), eval: math_add },
    Function { name: "States.StringSplit", min_args: 2, max_args: Some(2), eval: string_split },
    Function { name: "States.UUID", min_args: 0, max_args: Some(0), eval: uuid },
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
        &self.name
    }

    /// The arguments as written.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// Evaluates the call; failures are `States.IntrinsicFailure` (or what a path raises).
    pub fn eval(&self, env: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
        let function = function(&self.name).ok_or_else(|| {
            StatesError::intrinsic(format!("Unknown intrinsic function {}", self.name))
        })?;
        let mut values = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            values.push(match arg {
                Arg::Literal(value) => value.clone(),
                Arg::Path(path) => env.resolve(path)?,
                Arg::Call(call) => call.eval(env)?,
            });
        }
        (function.eval)(self, values, env)
    }

    fn fail(&self, cause: impl std::fmt::Display) -> StatesError {
        StatesError::intrinsic(format!("{} failed: {}", self.name, cause))
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct Parser<'t> {
    text: &'t str,
    /// Byte offset of the next unread character.
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> ParseError {
        ParseError {
            message: format!("invalid intrinsic function '{}': {} at offset {}", self.text, what, self.pos),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Whitespace between tokens, as LocalStack's grammar skips it: space, tab, newline.
    fn skip_ws(&mut self) {
        while let Some(c @ (' ' | '\t' | '\n' | '\r')) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// `States.Name(arg, …)` at nesting level `depth` (1 for the outermost call).
    fn call(&mut self, depth: usize) -> Result<Call, ParseError> {
        if depth > MAX_NESTING {
            return Err(self.error(&format!("intrinsic functions nest deeper than {MAX_NESTING} levels")));
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                self.pos += 1;
            } else {
                break;
            }
        }
        let name = &self.text[start..self.pos];
        let Some(function) = function(name) else {
            return Err(ParseError { message: format!("unknown intrinsic function '{name}'") });
        };
        self.skip_ws();
        if !self.eat('(') {
            return Err(self.error(&format!("expected '(' after {name}")));
        }
        let mut args = Vec::new();
        let mut template = None;
        self.skip_ws();
        if !self.eat(')') {
            loop {
                self.skip_ws();
                if args.is_empty() && name == "States.Format" && self.peek() == Some('\'') {
                    let (text, pieces) = self.string()?;
                    template = Some(pieces);
                    args.push(Arg::Literal(Value::String(text)));
                } else {
                    args.push(self.arg(depth)?);
                }
                self.skip_ws();
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return Err(self.error(&format!("expected ',' or ')' in the arguments of {name}")));
                }
            }
        }
        let count = args.len();
        let fits = count >= function.min_args && function.max_args.is_none_or(|max| count <= max);
        if !fits {
            let expected = match function.max_args {
                Some(max) if max == function.min_args => format!("{max}"),
                Some(max) => format!("{} to {}", function.min_args, max),
                None => format!("at least {}", function.min_args),
            };
            return Err(ParseError {
                message: format!("{name} takes {expected} argument(s), but was given {count}"),
            });
        }
        if name == "States.Format" {
            check_format(&args, template.as_deref())?;
        }
        Ok(Call { name: name.to_owned(), args, template })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, ParseError> {
        match self.peek() {
            Some('\'') => Ok(Arg::Literal(Value::String(self.string()?.0))),
            Some('$') => Ok(Arg::Path(Path::parse(self.path_text()?)?)),
            Some(c) if c == '-' || c.is_ascii_digit() => Ok(Arg::Literal(self.number()?)),
            Some(_) if self.rest().starts_with("States.") => Ok(Arg::Call(self.call(depth + 1)?)),
            Some(_) => {
                for (word, value) in [("true", Value::Bool(true)), ("false", Value::Bool(false)), ("null", Value::Null)] {
                    if let Some(after) = self.rest().strip_prefix(word) {
                        if !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                            self.pos += word.len();
                            return Ok(Arg::Literal(value));
                        }
                    }
                }
                Err(self.error("expected a string, number, boolean, null, path or intrinsic function"))
            }
            None => Err(self.error("unexpected end of text")),
        }
    }

    /// A single-quoted literal. Returns the unescaped text and, for `States.Format`, the same
    /// text split at unescaped `{}` placeholders. AWS reserves `'`, `{`, `}` and `\`, escaped
    /// as `\'`, `\{`, `\}`, `\\`; any other backslash is "an open escape backslash" and an
    /// error (the AWS page, "Reserved characters in intrinsic functions").
    fn string(&mut self) -> Result<(String, Vec<String>), ParseError> {
        self.pos += 1; // the opening quote
        let mut text = String::new();
        let mut pieces = vec![String::new()];
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string literal"));
            };
            self.pos += c.len_utf8();
            match c {
                '\'' => return Ok((text, pieces)),
                '\\' => match self.peek() {
                    Some(e @ ('\'' | '{' | '}' | '\\')) => {
                        self.pos += 1;
                        text.push(e);
                        pieces.last_mut().expect("never empty").push(e);
                    }
                    _ => return Err(self.error("open escape backslash in string literal")),
                },
                '{' if self.peek() == Some('}') => {
                    self.pos += 1;
                    text.push_str("{}");
                    pieces.push(String::new());
                }
                c => {
                    text.push(c);
                    pieces.last_mut().expect("never empty").push(c);
                }
            }
        }
    }

    /// A JSON number: `-?int(.frac)?(e[+-]?int)?`, integral ones kept as integers.
    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        while end < bytes.len() && matches!(bytes[end], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            end += 1;
        }
        let token = &self.text[start..end];
        match serde_json::from_str::<Value>(token) {
            Ok(value @ Value::Number(_)) => {
                self.pos = end;
                Ok(value)
            }
            _ => Err(self.error(&format!("invalid number '{token}'"))),
        }
    }

    /// The text of a path argument: it runs to the first `,` or `)` outside brackets,
    /// parentheses and quotes (so `$['a,b']` and filters such as `$[?(@.a)]` stay whole).
    fn path_text(&mut self) -> Result<&str, ParseError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut chars = self.rest().char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if let Some(q) = quote {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => depth += 1,
                ']' | ')' if depth > 0 => depth -= 1,
                ',' | ')' => {
                    end = Some(start + i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return Err(self.error("path argument runs to the end of the text"));
        };
        self.pos = end;
        Ok(self.text[start..end].trim_end())
    }
}

/// For `States.Format`: a literal template must be a string whose placeholders match the
/// remaining arguments; AWS validates this with the definition, so we do it now.
fn check_format(args: &[Arg], template: Option<&[String]>) -> Result<(), ParseError> {
    if let Some(Arg::Literal(first)) = args.first() {
        if !first.is_string() {
            return Err(ParseError { message: "States.Format: the first argument must be a string".into() });
        }
    }
    if let Some(pieces) = template {
        let placeholders = pieces.len() - 1;
        if placeholders != args.len() - 1 {
            return Err(ParseError {
                message: format!(
                    "States.Format: the template has {placeholders} placeholder(s) but {} value argument(s) follow",
                    args.len() - 1
                ),
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Argument helpers

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn want_str<'v>(call: &Call, value: &'v Value, what: &str) -> Result<&'v str, StatesError> {
    value
        .as_str()
        .ok_or_else(|| call.fail(format!("{what} must be a string, not {}", type_name(value))))
}

fn want_array<'v>(call: &Call, value: &'v Value, what: &str) -> Result<&'v Vec<Value>, StatesError> {
    value
        .as_array()
        .ok_or_else(|| call.fail(format!("{what} must be an array, not {}", type_name(value))))
}

/// An integer argument. Where the AWS page says "Step Functions will round it off to the
/// nearest integer" we round as Java's `Math.round` does (halves towards +∞), since AWS runs
/// on Java; elsewhere a fraction is an error.
fn want_int(call: &Call, value: &Value, what: &str, round: bool) -> Result<i64, StatesError> {
    let not_int = || call.fail(format!("{what} must be an integer, not {value}"));
    let Value::Number(n) = value else {
        return Err(call.fail(format!("{what} must be an integer, not {}", type_name(value))));
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let f = n.as_f64().ok_or_else(not_int)?;
    let f = if round { (f + 0.5).floor() } else { f };
    // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
    if f.fract() != 0.0 || !f.is_finite() || f < i64::MIN as f64 || f >= i64::MAX as f64 {
        return Err(not_int());
    }
    Ok(f as i64)
}

/// Java's `String.length()`: UTF-16 code units, which is how AWS counts "characters".
fn java_len(text: &str) -> usize {
    text.encode_utf16().count()
}

fn check_text_limit(call: &Call, text: &str) -> Result<(), StatesError> {
    let len = java_len(text);
    if len > MAX_TEXT_CHARS {
        return Err(call.fail(format!("the input is {len} characters, more than the {MAX_TEXT_CHARS} allowed")));
    }
    Ok(())
}

/// A key equal for equal JSON values: numbers by value (1 == 1.0), objects regardless of key
/// order. Used by `ArrayContains` and `ArrayUnique`.
fn identity(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e18 => out.push_str(&(f as i64).to_string()),
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for item in items {
                identity(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for key in keys {
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                identity(&map[key], out);
                out.push(',');
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn identity_of(value: &Value) -> String {
    let mut out = String::new();
    identity(value, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// The functions, in the table's order

fn format(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let pieces: Vec<String> = match &call.template {
        Some(pieces) => pieces.clone(),
        // A template read from a path has no escapes: every `{}` is a placeholder.
        None => want_str(call, &args[0], "the template")?.split("{}").map(str::to_owned).collect(),
    };
    let values = &args[1..];
    if pieces.len() - 1 != values.len() {
        return Err(call.fail(format!(
            "the template has {} placeholder(s) but {} value argument(s) were given",
            pieces.len() - 1,
            values.len()
        )));
    }
    let mut out = pieces[0].clone();
    for (value, piece) in values.iter().zip(&pieces[1..]) {
        java_string(value, &mut out);
        out.push_str(piece);
    }
    Ok(Value::String(out))
}

/// How AWS's Java runtime renders a value into `States.Format`: strings raw, numbers, booleans
/// and null as JSON, arrays and objects as Java's `List`/`Map` `toString`:
/// `{Arg1=1, Arg2=[]}` (LocalStack reproduces this from recorded AWS responses).
fn java_string(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                java_string(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn string_to_json(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the argument")?;
    // Blank text gives null, as LocalStack (validated against AWS) does.
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| call.fail(format!("the argument is not valid JSON: {e}")))
}

fn json_to_string(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    // Compact, keys in input order (the workspace enables serde_json's preserve_order).
    serde_json::to_string(&args[0]).map(Value::String).map_err(|e| call.fail(e))
}

fn array(_: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    Ok(Value::Array(args))
}

fn array_partition(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let size = want_int(call, &args[1], "the chunk size", true)?;
    if size <= 0 {
        return Err(call.fail(format!("the chunk size must be a positive integer, not {size}")));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Value::Array(items.chunks(size).map(|chunk| Value::Array(chunk.to_vec())).collect()))
}

fn array_contains(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let wanted = identity_of(&args[1]);
    Ok(Value::Bool(items.iter().any(|item| identity_of(item) == wanted)))
}

fn array_range(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let start = want_int(call, &args[0], "the start", true)?;
    let end = want_int(call, &args[1], "the end", true)?;
    let step = want_int(call, &args[2], "the step", true)?;
    if step == 0 {
        return Err(call.fail("the step must not be zero"));
    }
    // Both ends are inclusive (`ArrayRange(1, 9, 2)` is `[1,3,5,7,9]`, the AWS page). Count
    // first, in i128, so a huge range fails without being built.
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    let count = if (step > 0 && end >= start) || (step < 0 && end <= start) { (end - start) / step + 1 } else { 0 };
    if count > MAX_RANGE_ITEMS {
        return Err(call.fail(format!("the range has {count} items, more than the {MAX_RANGE_ITEMS} allowed")));
    }
    // Every item lies between start and end, so it fits in i64.
    Ok(Value::Array((0..count).map(|i| Value::from((start + i * step) as i64)).collect()))
}

fn array_get_item(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let index = want_int(call, &args[1], "the index", false)?;
    usize::try_from(index)
        .ok()
        .and_then(|i| items.get(i))
        .cloned()
        .ok_or_else(|| call.fail(format!("index {index} is out of bounds for an array of {} item(s)", items.len())))
}

fn array_length(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    Ok(Value::from(want_array(call, &args[0], "the argument")?.len()))
}

fn array_unique(call: &Call, mut args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    want_array(call, &args[0], "the argument")?;
    let Value::Array(items) = args.swap_remove(0) else { unreachable!("checked above") };
    // Keeps the first of each run of equal values, in order.
    let mut seen = HashSet::new();
    Ok(Value::Array(items.into_iter().filter(|item| seen.insert(identity_of(item))).collect()))
}

fn base64_encode(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the argument")?;
    check_text_limit(call, text)?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text.as_bytes())))
}

fn base64_decode(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the argument")?;
    check_text_limit(call, text)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| call.fail(format!("the argument is not valid Base64: {e}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| call.fail("the decoded data is not UTF-8 text"))
}

fn hash(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    use sha2::Digest as _;
    let text = want_str(call, &args[0], "the data")?;
    let algorithm = want_str(call, &args[1], "the algorithm")?;
    check_text_limit(call, text)?;
    let bytes = text.as_bytes();
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(call.fail(format!(
                "unknown algorithm '{other}'; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
            )))
        }
    };
    Ok(Value::String(digest.iter().map(|b| format!("{b:02x}")).collect()))
}

fn json_merge(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let mut args = args.into_iter();
    let (first, second, deep) = (args.next(), args.next(), args.next());
    let (Some(Value::Object(mut merged)), Some(Value::Object(second))) = (first, second) else {
        return Err(call.fail("the first two arguments must be JSON objects"));
    };
    match deep {
        Some(Value::Bool(false)) => {}
        // "Currently, Step Functions only supports the shallow merging mode; therefore, you
        // must specify the boolean value as false" (the AWS page).
        Some(Value::Bool(true)) => return Err(call.fail("deep merging is not supported; the third argument must be false")),
        _ => return Err(call.fail("the third argument must be the boolean false")),
    }
    // Shallow: the second object's keys replace the first's, nested objects are not merged.
    for (key, value) in second {
        merged.insert(key, value);
    }
    Ok(Value::Object(merged))
}

fn math_random(call: &Call, args: Vec<Value>, env: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let start = want_int(call, &args[0], "the start", true)?;
    let end = want_int(call, &args[1], "the end", true)?;
    if start >= end {
        return Err(call.fail(format!("the start ({start}) must be less than the end ({end})")));
    }
    // Start inclusive, end exclusive (the AWS page).
    let span = (i128::from(end) - i128::from(start)) as u64;
    let offset = match args.get(2) {
        Some(seed) => JavaRandom::new(want_int(call, seed, "the seed", true)?).below(span),
        None => env.random_u64() % span,
    };
    Ok(Value::from((i128::from(start) + i128::from(offset)) as i64))
}

/// `java.util.Random`: AWS's runtime is Java, so a seeded `States.MathRandom` most plausibly
/// computes `start + new Random(seed).nextInt(end - start)`. We reproduce that exactly for
/// spans that fit a Java `int`; wider spans (beyond what a Java `int` API could take) use
/// `nextLong()` modulo the span.
struct JavaRandom(u64);

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom((seed as u64 ^ Self::MULTIPLIER) & Self::MASK)
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.0 = (self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.0 >> (48 - bits)) as i64 as i32
    }

    /// `nextInt(bound)` for `bound` ≤ `i32::MAX`, else `nextLong()` reduced modulo `bound`.
    fn below(&mut self, bound: u64) -> u64 {
        let Ok(bound) = i32::try_from(bound) else {
            let high = i64::from(self.next(32)) << 32;
            let long = high.wrapping_add(i64::from(self.next(32)));
            return (long as u64) % bound;
        };
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as u64;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r as u64;
            }
            u = self.next(31);
        }
    }
}

/// `States.MathAdd` takes integers in the range of Java's `int` (the AWS page), rounding
/// non-integers to the nearest integer.
fn math_add(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let mut sum = 0i64;
    for (value, what) in args.iter().zip(["the first argument", "the second argument"]) {
        let n = want_int(call, value, what, true)?;
        if i32::try_from(n).is_err() {
            return Err(call.fail(format!("{what} ({n}) is outside the range -2147483648 to 2147483647")));
        }
        sum += n;
    }
    Ok(Value::Number(Number::from(sum)))
}

/// Splits on any of the delimiter characters and drops empty strings, as Java's
/// `StringTokenizer` does (the AWS page's example splits `"This.is+a,test=string"` on `".+,="`).
fn string_split(call: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the first argument")?;
    let delimiters = want_str(call, &args[1], "the delimiters")?;
    let parts = text
        .split(|c: char| delimiters.contains(c))
        .filter(|part| !part.is_empty())
        .map(|part| Value::String(part.to_owned()))
        .collect();
    Ok(Value::Array(parts))
}

fn uuid(_: &Call, _: Vec<Value>, env: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&env.random_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&env.random_u64().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Value::String(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )))
}

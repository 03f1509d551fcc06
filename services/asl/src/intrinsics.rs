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

    fn fail(&self, cause: impl std::fmt::Display) -> StatesError {
        StatesError::intrinsic(format!("{} failed: {}", self.function.name, cause))
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
            message: format!(
                "invalid intrinsic function '{}': {} at offset {}",
                self.text, what, self.pos
            ),
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
            return Err(self.error(&format!(
                "intrinsic functions nest deeper than {MAX_NESTING} levels"
            )));
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
            return Err(ParseError {
                message: format!("unknown intrinsic function '{name}'"),
            });
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
                    return Err(
                        self.error(&format!("expected ',' or ')' in the arguments of {name}"))
                    );
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
        Ok(Call {
            function,
            args,
            template,
        })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, ParseError> {
        match self.peek() {
            Some('\'') => Ok(Arg::Literal(Value::String(self.string()?.0))),
            Some('$') => Ok(Arg::Path(Path::parse(self.path_text()?)?)),
            Some(c) if c == '-' || c.is_ascii_digit() => Ok(Arg::Literal(self.number()?)),
            Some(_) if self.rest().starts_with("States.") => Ok(Arg::Call(self.call(depth + 1)?)),
            Some(_) => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if let Some(after) = self.rest().strip_prefix(word) {
                        if !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                            self.pos += word.len();
                            return Ok(Arg::Literal(value));
                        }
                    }
                }
                Err(self
                    .error("expected a string, number, boolean, null, path or intrinsic function"))
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
        while end < bytes.len()
            && matches!(bytes[end], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        {
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
                ',' | ')' if depth == 0 => {
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
            return Err(ParseError {
                message: "States.Format: the first argument must be a string".into(),
            });
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

fn want_array<'v>(
    call: &Call,
    value: &'v Value,
    what: &str,
) -> Result<&'v Vec<Value>, StatesError> {
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
        return Err(call.fail(format!(
            "{what} must be an integer, not {}",
            type_name(value)
        )));
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
        return Err(call.fail(format!(
            "the input is {len} characters, more than the {MAX_TEXT_CHARS} allowed"
        )));
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
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e18 => {
                out.push_str(&(f as i64).to_string())
            }
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
        other => {
            use std::fmt::Write as _;
            // Numbers, booleans and null as JSON; writing to a String cannot fail.
            let _ = write!(out, "{other}");
        }
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
    let values = &args[1..];
    match &call.template {
        Some(pieces) => fill(call, pieces.iter().map(String::as_str), values),
        // A template read from a path has no escapes: every `{}` is a placeholder.
        None => fill(
            call,
            want_str(call, &args[0], "the template")?.split("{}"),
            values,
        ),
    }
}

/// The template's pieces with the values between them.
fn fill<'p>(
    call: &Call,
    pieces: impl Iterator<Item = &'p str> + Clone,
    values: &[Value],
) -> Result<Value, StatesError> {
    let (count, text) = pieces.clone().fold((0, 0), |(count, text), piece| {
        (count + 1, text + piece.len())
    });
    if count - 1 != values.len() {
        return Err(call.fail(format!(
            "the template has {} placeholder(s) but {} value argument(s) were given",
            count - 1,
            values.len()
        )));
    }
    let mut out = String::with_capacity(text + 16 * values.len());
    let mut pieces = pieces;
    out.push_str(pieces.next().unwrap_or_default());
    for (value, piece) in values.iter().zip(pieces) {
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
        // Integers are the common case (ids, counts): written without the `fmt` machinery,
        // which cost as much as the rest of a one-placeholder `States.Format`.
        Value::Number(n) if n.is_u64() || n.is_i64() => {
            let mut digits = itoa::Buffer::new();
            match n.as_u64() {
                Some(u) => out.push_str(digits.format(u)),
                None => out.push_str(digits.format(n.as_i64().unwrap_or_default())),
            }
        }
        other => {
            use std::fmt::Write as _;
            // Other numbers, booleans and null as JSON; writing to a String cannot fail.
            let _ = write!(out, "{other}");
        }
    }
}

fn string_to_json(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the argument")?;
    // Blank text gives null, as LocalStack (validated against AWS) does.
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text)
        .map_err(|e| call.fail(format!("the argument is not valid JSON: {e}")))
}

fn json_to_string(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    // Compact, keys in input order (the workspace enables serde_json's preserve_order).
    serde_json::to_string(&args[0])
        .map(Value::String)
        .map_err(|e| call.fail(e))
}

fn array(_: &Call, args: Vec<Value>, _: &mut dyn IntrinsicEnv) -> Result<Value, StatesError> {
    Ok(Value::Array(args))
}

fn array_partition(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let size = want_int(call, &args[1], "the chunk size", true)?;
    if size <= 0 {
        return Err(call.fail(format!(
            "the chunk size must be a positive integer, not {size}"
        )));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|chunk| Value::Array(chunk.to_vec()))
            .collect(),
    ))
}

fn array_contains(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let wanted = identity_of(&args[1]);
    Ok(Value::Bool(
        items.iter().any(|item| identity_of(item) == wanted),
    ))
}

fn array_range(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let start = want_int(call, &args[0], "the start", true)?;
    let end = want_int(call, &args[1], "the end", true)?;
    let step = want_int(call, &args[2], "the step", true)?;
    if step == 0 {
        return Err(call.fail("the step must not be zero"));
    }
    // Both ends are inclusive (`ArrayRange(1, 9, 2)` is `[1,3,5,7,9]`, the AWS page). Count
    // first, in i128, so a huge range fails without being built.
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    let count = if (step > 0 && end >= start) || (step < 0 && end <= start) {
        (end - start) / step + 1
    } else {
        0
    };
    if count > MAX_RANGE_ITEMS {
        return Err(call.fail(format!(
            "the range has {count} items, more than the {MAX_RANGE_ITEMS} allowed"
        )));
    }
    // Every item lies between start and end, so it fits in i64.
    Ok(Value::Array(
        (0..count)
            .map(|i| Value::from((start + i * step) as i64))
            .collect(),
    ))
}

fn array_get_item(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let index = want_int(call, &args[1], "the index", false)?;
    usize::try_from(index)
        .ok()
        .and_then(|i| items.get(i))
        .cloned()
        .ok_or_else(|| {
            call.fail(format!(
                "index {index} is out of bounds for an array of {} item(s)",
                items.len()
            ))
        })
}

fn array_length(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    Ok(Value::from(
        want_array(call, &args[0], "the argument")?.len(),
    ))
}

fn array_unique(
    call: &Call,
    mut args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    want_array(call, &args[0], "the argument")?;
    let Value::Array(items) = args.swap_remove(0) else {
        unreachable!("checked above")
    };
    // Keeps the first of each run of equal values, in order.
    let mut seen = HashSet::new();
    Ok(Value::Array(
        items
            .into_iter()
            .filter(|item| seen.insert(identity_of(item)))
            .collect(),
    ))
}

fn base64_encode(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let text = want_str(call, &args[0], "the argument")?;
    check_text_limit(call, text)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
    ))
}

fn base64_decode(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
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
    let text = want_str(call, &args[0], "the data")?;
    let algorithm = want_str(call, &args[1], "the algorithm")?;
    check_text_limit(call, text)?;
    hex_digest(algorithm, text.as_bytes())
        .map(Value::String)
        .ok_or_else(|| {
            call.fail(format!(
                "unknown algorithm '{algorithm}'; use {HASH_ALGORITHMS}"
            ))
        })
}

/// The algorithms `States.Hash` and JSONata's `$hash` accept, as their errors list them.
pub(crate) const HASH_ALGORITHMS: &str = "MD5, SHA-1, SHA-256, SHA-384 or SHA-512";

/// The lower-case hex digest of `bytes`, or `None` for an algorithm AWS does not offer.
pub(crate) fn hex_digest(algorithm: &str, bytes: &[u8]) -> Option<String> {
    use sha2::Digest as _;
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        _ => return None,
    };
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn json_merge(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let mut args = args.into_iter();
    let (first, second, deep) = (args.next(), args.next(), args.next());
    let (Some(Value::Object(mut merged)), Some(Value::Object(second))) = (first, second) else {
        return Err(call.fail("the first two arguments must be JSON objects"));
    };
    match deep {
        Some(Value::Bool(false)) => {}
        // "Currently, Step Functions only supports the shallow merging mode; therefore, you
        // must specify the boolean value as false" (the AWS page).
        Some(Value::Bool(true)) => {
            return Err(call.fail("deep merging is not supported; the third argument must be false"))
        }
        _ => return Err(call.fail("the third argument must be the boolean false")),
    }
    // Shallow: the second object's keys replace the first's, nested objects are not merged.
    for (key, value) in second {
        merged.insert(key, value);
    }
    Ok(Value::Object(merged))
}

fn math_random(
    call: &Call,
    args: Vec<Value>,
    env: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let start = want_int(call, &args[0], "the start", true)?;
    let end = want_int(call, &args[1], "the end", true)?;
    if start >= end {
        return Err(call.fail(format!(
            "the start ({start}) must be less than the end ({end})"
        )));
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
    for (value, what) in args
        .iter()
        .zip(["the first argument", "the second argument"])
    {
        let n = want_int(call, value, what, true)?;
        if i32::try_from(n).is_err() {
            return Err(call.fail(format!(
                "{what} ({n}) is outside the range -2147483648 to 2147483647"
            )));
        }
        sum += n;
    }
    Ok(Value::Number(Number::from(sum)))
}

/// Splits on any of the delimiter characters and drops empty strings, as Java's
/// `StringTokenizer` does (the AWS page's example splits `"This.is+a,test=string"` on `".+,="`).
fn string_split(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName;
    use serde_json::json;

    /// Resolves a path by its text from a small table; random bits count up from a seed.
    struct TestEnv {
        paths: Vec<(&'static str, Value)>,
        next: u64,
    }

    impl IntrinsicEnv for TestEnv {
        fn resolve(&self, path: &Path) -> Result<Value, StatesError> {
            self.paths
                .iter()
                .find(|(text, _)| *text == path.as_str())
                .map(|(_, value)| value.clone())
                .ok_or_else(|| StatesError::new(ErrorName::ParameterPathFailure, path.as_str()))
        }
        fn random_u64(&mut self) -> u64 {
            self.next = self
                .next
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.next
        }
    }

    fn env() -> TestEnv {
        TestEnv {
            paths: vec![],
            next: 1,
        }
    }

    fn run(text: &str, env: &mut TestEnv) -> Result<Value, StatesError> {
        let call = Call::parse(text).unwrap_or_else(|e| panic!("{text} should parse: {e}"));
        call.eval(env)
    }

    fn ok(text: &str, expected: Value) {
        assert_eq!(
            run(text, &mut env()).unwrap_or_else(|e| panic!("{text}: {e}")),
            expected,
            "{text}"
        );
    }

    /// Evaluation fails with `States.IntrinsicFailure`; returns the cause.
    fn fails(text: &str) -> String {
        let error = run(text, &mut env()).expect_err(text);
        assert_eq!(error.name, ErrorName::IntrinsicFailure, "{text}: {error}");
        let cause = error.cause.expect("a cause");
        let name = Call::parse(text).unwrap().name().to_owned();
        assert!(
            cause.contains(&name),
            "{text}: the cause '{cause}' should name {name}"
        );
        cause
    }

    fn fails_with(text: &str, needle: &str) {
        let cause = fails(text);
        assert!(
            cause.contains(needle),
            "{text}: '{cause}' should mention '{needle}'"
        );
    }

    fn bad_parse(text: &str) -> String {
        match Call::parse(text) {
            Ok(call) => panic!("{text} should not parse, got {call:?}"),
            Err(e) => e.message,
        }
    }

    fn bad_parse_with(text: &str, needle: &str) {
        let message = bad_parse(text);
        assert!(
            message.contains(needle),
            "{text}: '{message}' should mention '{needle}'"
        );
    }

    fn ok_in(text: &str, paths: Vec<(&'static str, Value)>, expected: Value) {
        let mut env = TestEnv { paths, next: 1 };
        assert_eq!(
            run(text, &mut env).unwrap_or_else(|e| panic!("{text}: {e}")),
            expected,
            "{text}"
        );
    }

    fn nest(depth: usize) -> String {
        format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth))
    }

    #[test]
    fn array() {
        ok("States.Array()", json!([]));
        ok(
            "States.Array(1, 'a', true, false, null, -2.5)",
            json!([1, "a", true, false, null, -2.5]),
        );
        ok(
            "States.Array(States.Array(1), States.Array())",
            json!([[1], []]),
        );
        ok("States.Array(  1 ,\t2\n)", json!([1, 2]));
        ok("  States.Array(1)  ", json!([1]));
        ok(
            "States.Array(1e2, 0, -0, -7, 12345678901234)",
            json!([100.0, 0, -0.0, -7, 12345678901234i64]),
        );
    }

    #[test]
    fn array_contains() {
        ok(
            "States.ArrayContains(States.Array(1, 2, 3), 2)",
            json!(true),
        );
        ok(
            "States.ArrayContains(States.Array(1, 2, 3), 4)",
            json!(false),
        );
        ok("States.ArrayContains(States.Array('a'), 'a')", json!(true));
        ok("States.ArrayContains(States.Array(1.0), 1)", json!(true));
        ok(
            "States.ArrayContains(States.Array(States.Array(1, 2)), States.Array(1, 2))",
            json!(true),
        );
        ok(
            "States.ArrayContains(States.Array(States.Array(1, 2)), States.Array(2, 1))",
            json!(false),
        );
        ok("States.ArrayContains(States.Array(), null)", json!(false));
        ok(
            "States.ArrayContains(States.Array(null), null)",
            json!(true),
        );
        ok("States.ArrayContains(States.Array(1), '1')", json!(false));
        fails_with("States.ArrayContains('abc', 'a')", "array");
        bad_parse_with("States.ArrayContains(States.Array(1))", "2");
    }

    #[test]
    fn array_get_item() {
        ok("States.ArrayGetItem(States.Array(1, 2, 3), 0)", json!(1));
        ok("States.ArrayGetItem(States.Array(1, 2, 3), 2)", json!(3));
        ok(
            "States.ArrayGetItem(States.Array(1, States.Array('x')), 1)",
            json!(["x"]),
        );
        ok("States.ArrayGetItem(States.Array(1, 2), 1.0)", json!(2));
        fails_with(
            "States.ArrayGetItem(States.Array(1, 2, 3), 3)",
            "out of bounds",
        );
        fails_with(
            "States.ArrayGetItem(States.Array(1, 2, 3), -1)",
            "out of bounds",
        );
        fails_with("States.ArrayGetItem(States.Array(), 0)", "out of bounds");
        fails_with("States.ArrayGetItem(States.Array(1), 0.5)", "integer");
        fails_with("States.ArrayGetItem(States.Array(1), '0')", "integer");
        fails_with("States.ArrayGetItem('abc', 0)", "array");
    }

    #[test]
    fn array_length() {
        ok("States.ArrayLength(States.Array())", json!(0));
        ok("States.ArrayLength(States.Array(1, 2, 3))", json!(3));
        ok(
            "States.ArrayLength(States.ArrayRange(1, 1000, 1))",
            json!(1000),
        );
        fails_with("States.ArrayLength('abc')", "must be an array, not string");
        fails_with("States.ArrayLength(null)", "must be an array, not null");
        bad_parse_with("States.ArrayLength()", "takes 1 argument");
        bad_parse_with("States.ArrayLength(States.Array(), 1)", "given 2");
    }

    #[test]
    fn array_partition() {
        ok(
            "States.ArrayPartition(States.Array(1,2,3,4,5,6,7,8,9), 4)",
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
        );
        ok(
            "States.ArrayPartition(States.Array(1, 2), 2)",
            json!([[1, 2]]),
        );
        ok(
            "States.ArrayPartition(States.Array(1, 2), 5)",
            json!([[1, 2]]),
        );
        ok("States.ArrayPartition(States.Array(), 3)", json!([]));
        // Non-integer chunk sizes round to the nearest integer (the AWS page).
        ok(
            "States.ArrayPartition(States.Array(1, 2, 3), 1.5)",
            json!([[1, 2], [3]]),
        );
        ok(
            "States.ArrayPartition(States.Array(1, 2, 3), 1.4)",
            json!([[1], [2], [3]]),
        );
        ok(
            "States.ArrayPartition(States.Array(1, 2), 9223372036854775807)",
            json!([[1, 2]]),
        );
        fails_with("States.ArrayPartition(States.Array(1, 2), 0)", "positive");
        fails_with("States.ArrayPartition(States.Array(1, 2), -1)", "positive");
        fails_with("States.ArrayPartition(States.Array(1, 2), 0.4)", "positive");
        fails_with("States.ArrayPartition(States.Array(1, 2), 'x')", "integer");
        fails_with("States.ArrayPartition('12', 1)", "array");
    }

    #[test]
    fn array_range() {
        ok("States.ArrayRange(1, 9, 2)", json!([1, 3, 5, 7, 9]));
        ok("States.ArrayRange(1, 10, 2)", json!([1, 3, 5, 7, 9]));
        ok("States.ArrayRange(5, 5, 1)", json!([5]));
        ok("States.ArrayRange(5, 1, -2)", json!([5, 3, 1]));
        ok("States.ArrayRange(5, 1, 1)", json!([]));
        ok("States.ArrayRange(-3, 0, 1)", json!([-3, -2, -1, 0]));
        ok("States.ArrayRange(1.4, 2.5, 1)", json!([1, 2, 3]));
        ok(
            "States.ArrayRange(-9223372036854775808, 9223372036854775807, 9223372036854775807)",
            json!([i64::MIN, -1, i64::MAX - 1]),
        );
        ok(
            "States.ArrayRange(0, 999, 1)",
            Value::Array((0..1000).map(Value::from).collect()),
        );
        fails_with("States.ArrayRange(0, 1000, 1)", "1001 items");
        fails_with("States.ArrayRange(1, 5000, 1)", "more than the 1000");
        fails_with(
            "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
            "more than",
        );
        fails_with("States.ArrayRange(1, 5, 0)", "zero");
        fails_with("States.ArrayRange(1, 5, 0.4)", "zero");
        fails_with("States.ArrayRange('1', 5, 1)", "integer");
        fails_with("States.ArrayRange(1, 1e300, 1)", "integer");
        bad_parse_with(
            "States.ArrayRange(1, 5)",
            "takes 3 argument(s), but was given 2",
        );
    }

    #[test]
    fn array_unique() {
        ok(
            "States.ArrayUnique(States.Array(1,2,3,3,3,3,3,3,4))",
            json!([1, 2, 3, 4]),
        );
        ok(
            "States.ArrayUnique(States.Array(3, 1, 3, 2, 1))",
            json!([3, 1, 2]),
        );
        ok(
            "States.ArrayUnique(States.Array('1', 1, 1.0, null, null))",
            json!(["1", 1, null]),
        );
        ok(
            "States.ArrayUnique(States.Array(States.Array(1), States.Array(1), States.Array(2)))",
            json!([[1], [2]]),
        );
        ok("States.ArrayUnique(States.Array())", json!([]));
        fails_with("States.ArrayUnique(1)", "array");
    }

    #[test]
    fn base64_decode() {
        ok(
            "States.Base64Decode('RGF0YSB0byBlbmNvZGU=')",
            json!("Data to encode"),
        );
        ok("States.Base64Decode('')", json!(""));
        ok("States.Base64Decode('aMOp')", json!("hé"));
        ok(
            "States.Base64Decode(States.Base64Encode('round \\{trip\\}'))",
            json!("round {trip}"),
        );
        fails_with("States.Base64Decode('not base64!')", "Base64");
        fails_with("States.Base64Decode('//8=')", "UTF-8");
        fails_with("States.Base64Decode(1)", "string");
        let long = format!("States.Base64Decode('{}')", "A".repeat(10_004));
        fails_with(&long, "10000");
    }

    #[test]
    fn base64_encode() {
        ok(
            "States.Base64Encode('Data to encode')",
            json!("RGF0YSB0byBlbmNvZGU="),
        );
        ok("States.Base64Encode('')", json!(""));
        ok("States.Base64Encode('hé')", json!("aMOp"));
        ok(
            &format!("States.Base64Encode('{}')", "a".repeat(10_000)),
            json!("YWFh".repeat(3333) + "YQ=="),
        );
        fails_with(
            &format!("States.Base64Encode('{}')", "a".repeat(10_001)),
            "10001 characters",
        );
        fails_with("States.Base64Encode(States.Array())", "string");
        fails_with("States.Base64Encode(null)", "string");
    }

    #[test]
    fn format() {
        ok(
            "States.Format('Hello, my name is {}.', 'Arnav')",
            json!("Hello, my name is Arnav."),
        );
        ok("States.Format('no placeholders')", json!("no placeholders"));
        ok("States.Format('{}{}', 1, 2)", json!("12"));
        ok(
            "States.Format('{} {} {} {}', 3, -1.5, true, null)",
            json!("3 -1.5 true null"),
        );
        ok("States.Format('{}', 1e2)", json!("100.0"));
        // Objects and arrays render as Java's Map/List toString; strings inside stay unquoted.
        ok(
            "States.Format('x={}', States.JsonMerge(States.StringToJson('{\"Arg1\": 1}'), States.StringToJson('{\"Arg2\": []}'), false))",
            json!("x={Arg1=1, Arg2=[]}"),
        );
        ok(
            "States.Format('{}', States.Array('a', 1, States.Array(), null))",
            json!("[a, 1, [], null]"),
        );
        ok(
            "States.Format('{}', States.StringToJson('{\"b\":{\"c\":\"d\"},\"a\":[1,2]}'))",
            json!("{b={c=d}, a=[1, 2]}"),
        );
        // Escaped braces are text, not placeholders (the AWS page, "Reserved characters").
        ok("States.Format('\\{\\} and {}', 'x')", json!("{} and x"));
        ok("States.Format('\\{}')", json!("{}"));
        ok("States.Format('it\\'s {}', 'me')", json!("it's me"));
        ok("States.Format('a\\\\b{}', 1)", json!("a\\b1"));
        ok(
            "States.Format('{}', States.Format('{}-{}', 'a', 'b'))",
            json!("a-b"),
        );
        ok("States.Format('{ {}', 1)", json!("{ 1"));
        bad_parse_with("States.Format('{}')", "1 placeholder(s) but 0");
        bad_parse_with("States.Format('{}', 1, 2)", "1 placeholder(s) but 2");
        bad_parse_with("States.Format(1)", "must be a string");
        bad_parse_with("States.Format()", "at least 1");
        // A template that is computed is checked when it is known.
        fails_with(
            "States.Format(States.Format('\\{\\}'))",
            "1 placeholder(s) but 0",
        );
        fails_with("States.Format(States.Array(), 1)", "string");
    }

    #[test]
    fn hash() {
        // The AWS page's SHA-1 example drops a digit ("…d18d7485e…"); this is the real digest.
        ok(
            "States.Hash('input data', 'SHA-1')",
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7"),
        );
        ok(
            "States.Hash('input data', 'MD5')",
            json!("812f45842bc6d66ee14572ce20db8e86"),
        );
        ok(
            "States.Hash('input data', 'SHA-256')",
            json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
        );
        ok(
            "States.Hash('input data', 'SHA-384')",
            json!("d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"),
        );
        ok(
            "States.Hash('input data', 'SHA-512')",
            json!("6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"),
        );
        ok(
            "States.Hash('', 'SHA-256')",
            json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        );
        ok(
            "States.Hash('héllo', 'MD5')",
            json!("be50e8478cf24ff3595bc7307fb91b50"),
        );
        fails_with("States.Hash('x', 'sha-1')", "unknown algorithm 'sha-1'");
        fails_with("States.Hash('x', 'SHA-224')", "unknown algorithm");
        fails_with("States.Hash(1, 'MD5')", "string");
        fails_with("States.Hash('x', 5)", "string");
        fails_with(
            &format!("States.Hash('{}', 'MD5')", "z".repeat(10_001)),
            "10000",
        );
        // Java counts UTF-16 units: 5,001 emoji are 10,002 "characters".
        fails_with(
            &format!("States.Hash('{}', 'MD5')", "😀".repeat(5_001)),
            "10002 characters",
        );
        assert!(run(
            &format!("States.Hash('{}', 'MD5')", "😀".repeat(5_000)),
            &mut env()
        )
        .is_ok());
    }

    #[test]
    fn json_merge() {
        ok(
            "States.JsonMerge(States.StringToJson('{\"a\": {\"a1\": 1, \"a2\": 2}, \"b\": 2}'), States.StringToJson('{\"a\": {\"a3\": 1, \"a4\": 2}, \"c\": 3}'), false)",
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}),
        );
        ok("States.JsonToString(States.JsonMerge(States.StringToJson('{\"z\":1,\"a\":2}'), States.StringToJson('{\"m\":3,\"z\":4}'), false))", json!("{\"z\":4,\"a\":2,\"m\":3}"));
        fails_with(
            "States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'), true)",
            "deep merging",
        );
        fails_with(
            "States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'), 'false')",
            "boolean false",
        );
        fails_with(
            "States.JsonMerge(States.Array(), States.StringToJson('{}'), false)",
            "JSON objects",
        );
        fails_with(
            "States.JsonMerge(States.StringToJson('{}'), 1, false)",
            "JSON objects",
        );
        bad_parse_with(
            "States.JsonMerge(States.StringToJson('{}'), States.StringToJson('{}'))",
            "takes 3",
        );
    }

    #[test]
    fn json_to_string() {
        ok(
            "States.JsonToString(States.StringToJson('{ \"foo\" : \"bar\", \"a\": [1, 2.5] }'))",
            json!("{\"foo\":\"bar\",\"a\":[1,2.5]}"),
        );
        ok(
            "States.JsonToString(States.StringToJson('{\"b\":1,\"a\":2}'))",
            json!("{\"b\":1,\"a\":2}"),
        );
        ok("States.JsonToString('x\"y')", json!("\"x\\\"y\""));
        ok("States.JsonToString(3)", json!("3"));
        ok("States.JsonToString(null)", json!("null"));
    }

    #[test]
    fn math_add() {
        ok("States.MathAdd(111, -1)", json!(110));
        ok("States.MathAdd(1, 2)", json!(3));
        ok("States.MathAdd(-5, -7)", json!(-12));
        // Non-integers round to the nearest integer, halves towards +∞ as Java's Math.round.
        ok("States.MathAdd(1.5, 0)", json!(2));
        ok("States.MathAdd(-1.5, 0)", json!(-1));
        ok("States.MathAdd(1.2, -2.5)", json!(-1));
        ok(
            "States.MathAdd(2147483647, 2147483647)",
            json!(4294967294i64),
        );
        ok("States.MathAdd(-2147483648, 0)", json!(-2147483648i64));
        ok(
            "States.MathAdd(States.MathAdd(1, 2), States.ArrayLength(States.Array(1)))",
            json!(4),
        );
        fails_with("States.MathAdd(2147483648, 0)", "outside the range");
        fails_with("States.MathAdd(0, -2147483649)", "outside the range");
        fails_with("States.MathAdd('1', 2)", "integer");
        fails_with("States.MathAdd(null, 2)", "integer");
        bad_parse_with(
            "States.MathAdd(1)",
            "States.MathAdd takes 2 argument(s), but was given 1",
        );
    }

    #[test]
    fn math_random() {
        for _ in 0..5 {
            let mut env = env();
            for _ in 0..200 {
                let n = run("States.MathRandom(1, 4)", &mut env)
                    .unwrap()
                    .as_i64()
                    .unwrap();
                assert!((1..4).contains(&n), "{n}");
            }
        }
        // All three values turn up, so the end really is exclusive and the range used.
        let mut env = env();
        let mut seen: Vec<i64> = (0..300)
            .map(|_| {
                run("States.MathRandom(-1, 2)", &mut env)
                    .unwrap()
                    .as_i64()
                    .unwrap()
            })
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, vec![-1, 0, 1]);
        ok("States.MathRandom(5, 6)", json!(5));
        // Seeded: start + new java.util.Random(seed).nextInt(end - start), values from a JVM.
        ok("States.MathRandom(0, 10, 42)", json!(0));
        ok("States.MathRandom(1, 999, 7)", json!(853));
        ok("States.MathRandom(0, 16, -5)", json!(4));
        ok("States.MathRandom(0, 1000000, 123456789)", json!(10965));
        ok("States.MathRandom(0.6, 10.4, 42.2)", json!(9));
        let wide = run(
            "States.MathRandom(-9223372036854775808, 9223372036854775807, 1)",
            &mut env,
        )
        .unwrap();
        assert!(wide.is_i64());
        fails_with("States.MathRandom(5, 5)", "less than");
        fails_with("States.MathRandom(6, 5)", "less than");
        fails_with("States.MathRandom('a', 5)", "integer");
        fails_with("States.MathRandom(1, 5, 'seed')", "seed");
        bad_parse_with("States.MathRandom(1)", "2 to 3");
        bad_parse_with("States.MathRandom(1, 2, 3, 4)", "2 to 3");
    }

    #[test]
    fn string_split() {
        ok(
            "States.StringSplit('1,2,3,4,5', ',')",
            json!(["1", "2", "3", "4", "5"]),
        );
        ok(
            "States.StringSplit('This.is+a,test=string', '.+,=')",
            json!(["This", "is", "a", "test", "string"]),
        );
        ok("States.StringSplit(',,a,,b,', ',')", json!(["a", "b"]));
        ok("States.StringSplit('', ',')", json!([]));
        ok("States.StringSplit('abc', '')", json!(["abc"]));
        ok(
            "States.StringSplit('a b\\\\c', ' \\\\')",
            json!(["a", "b", "c"]),
        );
        ok(
            "States.StringSplit('héllo wörld', 'ö')",
            json!(["héllo w", "rld"]),
        );
        fails_with("States.StringSplit(1, ',')", "string");
        fails_with("States.StringSplit('a', States.Array())", "string");
    }

    #[test]
    fn string_to_json() {
        ok(
            "States.StringToJson('{\"foo\": \"bar\"}')",
            json!({"foo": "bar"}),
        );
        ok(
            "States.StringToJson('[1, 2.5, null]')",
            json!([1, 2.5, null]),
        );
        ok("States.StringToJson('\"s\"')", json!("s"));
        ok("States.StringToJson('  ')", json!(null));
        ok(
            "States.StringToJson(States.JsonToString(States.Array(1, 'a')))",
            json!([1, "a"]),
        );
        fails_with("States.StringToJson('{not json')", "not valid JSON");
        fails_with("States.StringToJson('1 2')", "not valid JSON");
        fails_with("States.StringToJson(1)", "string");
    }

    #[test]
    fn uuid() {
        let mut env = env();
        let first = run("States.UUID()", &mut env).unwrap();
        let second = run("States.UUID()", &mut env).unwrap();
        assert_ne!(first, second);
        for value in [first, second] {
            let text = value.as_str().unwrap();
            let groups: Vec<&str> = text.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                vec![8, 4, 4, 4, 12],
                "{text}"
            );
            assert!(
                text.chars()
                    .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
                "{text}"
            );
            assert!(groups[2].starts_with('4'), "{text}");
            assert!(groups[3].starts_with(['8', '9', 'a', 'b']), "{text}");
        }
        // All-ones bits still give a well-formed v4 UUID.
        struct Ones;
        impl IntrinsicEnv for Ones {
            fn resolve(&self, _: &Path) -> Result<Value, StatesError> {
                unreachable!()
            }
            fn random_u64(&mut self) -> u64 {
                u64::MAX
            }
        }
        assert_eq!(
            Call::parse("States.UUID()")
                .unwrap()
                .eval(&mut Ones)
                .unwrap(),
            json!("ffffffff-ffff-4fff-bfff-ffffffffffff")
        );
        bad_parse_with("States.UUID(1)", "takes 0");
    }

    #[test]
    fn parse_errors() {
        bad_parse_with("States.Nope()", "unknown intrinsic function 'States.Nope'");
        bad_parse_with("States.array()", "'States.array'");
        bad_parse_with("States.Array(", "unexpected end");
        bad_parse_with("States.Array(1", "expected ',' or ')'");
        bad_parse_with("States.Array(1,)", "expected a string");
        bad_parse_with("States.Array(,1)", "expected a string");
        bad_parse_with("States.Array(1) x", "after the call");
        bad_parse_with("States.Array", "expected '('");
        bad_parse_with("States.Array('abc)", "unterminated");
        bad_parse_with("States.Array('a\\nb')", "open escape backslash");
        bad_parse_with("States.Array('a\\')", "unterminated");
        bad_parse_with("States.Array('a\\ b')", "open escape backslash");
        bad_parse_with("States.Array(truex)", "expected a string");
        bad_parse_with("States.Array(01)", "invalid number");
        bad_parse_with("States.Array(1.)", "invalid number");
        bad_parse_with("States.Array(--1)", "invalid number");
        bad_parse_with("States.Array(\"x\")", "expected a string");
        bad_parse_with("", "unknown intrinsic function ''");
        bad_parse_with("$.a", "unknown intrinsic function");
        bad_parse_with("States.Array(States.Nope())", "'States.Nope'");
        bad_parse_with("States.Array(States.MathAdd(1))", "States.MathAdd takes 2");
    }

    #[test]
    fn parse_limits() {
        ok(&nest(10), json!([[[[[[[[[[1]]]]]]]]]]));
        bad_parse_with(&nest(11), "deeper than 10");
        // Hostile nesting fails fast without overflowing the stack.
        bad_parse_with(&nest(100_000), "deeper than 10");
        bad_parse_with(&"States.Array(".repeat(100_000), "deeper than 10");
        // The AWS page's nine-call example parses.
        let arn = "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit('arn:aws:imagebuilder:r:a:image/recipe/1.2.3', '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit('arn:aws:imagebuilder:r:a:image/recipe/1.2.3', '/'), 2), '.'), 1), 'z')";
        ok(arn, json!("1.2.z"));
        let long = format!("States.StringSplit('{}', ',')", "ab,".repeat(100_000));
        assert_eq!(
            run(&long, &mut env()).unwrap().as_array().unwrap().len(),
            100_000
        );
        for text in [
            "States.Array('\u{0}')",
            "States.Array(1e999999)",
            "States.Array(-)",
            "States.Array(1e)",
            "States.\u{1F600}()",
            "States.Array($",
            "States.Array($[')",
        ] {
            let _ = Call::parse(text);
        }
    }

    #[test]
    fn escapes() {
        ok(
            "States.Array('\\'', '\\{', '\\}', '\\\\')",
            json!(["'", "{", "}", "\\"]),
        );
        ok(
            "States.Array('unescaped {} stays')",
            json!(["unescaped {} stays"]),
        );
        ok("States.Array('a, b)', 'c')", json!(["a, b)", "c"]));
        ok("States.Array('héllo 😀')", json!(["héllo 😀"]));
        ok("States.Array('')", json!([""]));
    }

    #[test]
    fn paths() {
        let input = vec![
            ("$.name", json!("Arnav")),
            ("$.template", json!("Hello, my name is {}.")),
            ("$['a,b']", json!([1, 2])),
            ("$.items[?(@.x == 1)]", json!(["f"])),
            ("$$.Execution.Id", json!("exec")),
            ("$count", json!(41)),
            ("$.obj", json!({"Arg1": 1, "Arg2": []})),
        ];
        ok_in(
            "States.Format('Hello, my name is {}.', $.name)",
            input.clone(),
            json!("Hello, my name is Arnav."),
        );
        ok_in(
            "States.Format($.template, $.name)",
            input.clone(),
            json!("Hello, my name is Arnav."),
        );
        ok_in(
            "States.Format('{}', $.obj)",
            input.clone(),
            json!("{Arg1=1, Arg2=[]}"),
        );
        ok_in(
            "States.Array($['a,b'], $.items[?(@.x == 1)] , $$.Execution.Id)",
            input.clone(),
            json!([[1, 2], ["f"], "exec"]),
        );
        ok_in("States.MathAdd($count, 1)", input.clone(), json!(42));
        ok_in(
            "States.JsonToString($.obj)",
            input.clone(),
            json!("{\"Arg1\":1,\"Arg2\":[]}"),
        );
        let mut env = TestEnv {
            paths: input.clone(),
            next: 1,
        };
        let error = run("States.Format($.template)", &mut env).unwrap_err();
        assert_eq!(error.name, ErrorName::IntrinsicFailure);
        // A path that selects nothing raises what the environment raises, not an intrinsic failure.
        let error = run("States.Array($.missing)", &mut env).unwrap_err();
        assert_eq!(error.name, ErrorName::ParameterPathFailure);
        let call = Call::parse("States.Array($.name)").unwrap();
        assert!(matches!(&call.args()[0], Arg::Path(p) if p.as_str() == "$.name"));
    }
}

//! JSONata for `QueryLanguage: "JSONata"`: the glue between the engine and the evaluator
//! (jsonata-core, JSONata 2.0.6 semantics).
//!
//! - `{% … %}` strings are parsed once, when the definition compiles ([`Expr`], [`Tree`]).
//! - Each evaluation binds `$states` (`input`, `result`, `errorOutput`, `context`) and the
//!   workflow variables the expression names, converting only the parts it reads; a
//!   [`Session`] converts each part at most once per state evaluation.
//! - Step Functions' own functions are registered (`$partition`, `$range`, `$hash`,
//!   `$random`, `$uuid`, `$parse`) and `$eval` is removed; randomness comes from the
//!   engine's `Rng`.
//! - Every evaluation is bounded in time and depth; failures become
//!   `States.QueryEvaluationError` with AWS's cause texts.
//!
//! The evaluator's values are `Rc`-based (not `Send`): everything here is synchronous and
//! nothing of the evaluator's leaks out of this module.

use crate::error::StatesError;
use crate::interpret::Rng;
use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::{Map, Value};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Wall-clock budget of one expression evaluation, in milliseconds.
pub const TIMEOUT_MS: u64 = 1_000;
/// Deepest evaluation stack one expression may build (JSONata's `stack` option).
pub const MAX_DEPTH: usize = 1_000;
/// Longest sequence an expression may build (paths, `$map`, ranges …).
pub const MAX_SEQUENCE: usize = 1_000_000;
/// `$range` and `$partition` build at most this many items, as `States.ArrayRange` does.
const MAX_FUNCTION_ITEMS: usize = 1_000;

/// The text between `{%` and `%}` when `text` is exactly one JSONata expression.
pub(crate) fn expression_text(text: &str) -> Option<&str> {
    (text.len() >= 4 && text.starts_with("{%") && text.ends_with("%}"))
        .then(|| &text[2..text.len() - 2])
}

/// Parses an expression (the text inside `{% %}`): `Err` carries the parser's message.
pub fn check(expression: &str) -> Result<(), String> {
    jsonata_core::parser::parse(expression)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// What an expression reads, found by scanning its text once at compile time: an
/// over-approximation is harmless (a part converted for nothing), a miss is not.
#[derive(Debug, Default, Clone)]
struct Needs {
    input: bool,
    result: bool,
    error_output: bool,
    context: bool,
    random: bool,
    variables: Vec<String>,
}

impl Needs {
    fn scan(text: &str) -> Needs {
        let mut needs = Needs::default();
        let bytes = text.as_bytes();
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && word(bytes[end]) {
                end += 1;
            }
            let name = &text[start..end];
            match name {
                "states" => {
                    let rest = text[end..].trim_start();
                    let field = rest.strip_prefix('.').map(|r| {
                        let r = r.trim_start();
                        let n = r.bytes().take_while(|b| word(*b)).count();
                        &r[..n]
                    });
                    match field {
                        Some("input") => needs.input = true,
                        Some("result") => needs.result = true,
                        Some("errorOutput") => needs.error_output = true,
                        Some("context") => needs.context = true,
                        _ => {
                            needs.input = true;
                            needs.result = true;
                            needs.error_output = true;
                            needs.context = true;
                        }
                    }
                }
                "random" | "uuid" => needs.random = true,
                "" => {}
                other => {
                    if !needs.variables.iter().any(|v| v == other) {
                        needs.variables.push(other.to_owned());
                    }
                }
            }
            i = end.max(start);
        }
        needs
    }
}

/// One compiled `{% %}` expression.
pub(crate) struct Expr {
    /// The expression as AWS quotes it in messages (trimmed).
    text: String,
    ast: AstNode,
    needs: Needs,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{% {} %}}", self.text)
    }
}

impl Expr {
    /// Compiles the inside of a `{% %}` string.
    pub(crate) fn parse(inner: &str) -> Result<Expr, String> {
        let ast = jsonata_core::parser::parse(inner).map_err(|e| e.to_string())?;
        Ok(Expr {
            text: inner.trim().to_owned(),
            ast,
            needs: Needs::scan(inner),
        })
    }

    /// Compiles `value` if it is a `{% %}` string; `Ok(None)` for anything else.
    pub(crate) fn from_value(value: &Value) -> Result<Option<Expr>, String> {
        match value.as_str().and_then(expression_text) {
            Some(inner) => Expr::parse(inner).map(Some),
            None => Ok(None),
        }
    }
}

/// A JSONata payload template (`Arguments`, `Output`, `Assign`, `Items`, `ItemSelector`):
/// any JSON value whose strings may be `{% %}` expressions, at any depth.
#[derive(Debug)]
pub(crate) enum Tree {
    /// A subtree with no expression anywhere below.
    Literal(Value),
    /// An expression; `field` names it in messages (`Output/error`).
    Expr {
        field: String,
        expr: Box<Expr>,
    },
    Object(Vec<(String, Tree)>),
    Array(Vec<Tree>),
}

impl Tree {
    /// Compiles a template; `field` is its name in messages (`Output`, `Assign`).
    pub(crate) fn compile(value: &Value, field: &str) -> Result<Tree, (String, String)> {
        Ok(match value {
            Value::String(s) => match expression_text(s) {
                Some(inner) => Tree::Expr {
                    field: field.to_owned(),
                    expr: Box::new(Expr::parse(inner).map_err(|e| (field.to_owned(), e))?),
                },
                None => Tree::Literal(value.clone()),
            },
            Value::Object(map) => {
                let entries = map
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), Tree::compile(v, &format!("{field}/{k}"))?)))
                    .collect::<Result<Vec<_>, (String, String)>>()?;
                if entries.iter().all(|(_, t)| matches!(t, Tree::Literal(_))) {
                    Tree::Literal(value.clone())
                } else {
                    Tree::Object(entries)
                }
            }
            Value::Array(items) => {
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Tree::compile(v, &format!("{field}/{i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|t| matches!(t, Tree::Literal(_))) {
                    Tree::Literal(value.clone())
                } else {
                    Tree::Array(items)
                }
            }
            other => Tree::Literal(other.clone()),
        })
    }

    /// The single expression this tree is, if it is one (for type checks like `Items`).
    pub(crate) fn as_expr(&self) -> Option<&Expr> {
        match self {
            Tree::Expr { expr, .. } => Some(expr),
            _ => None,
        }
    }
}

/// What an evaluation may read, supplied by the run loop for one state.
pub(crate) trait Host {
    /// `$states.input`.
    fn input(&self) -> &Value;
    /// `$states.result`, where there is one.
    fn result(&self) -> Option<&Value>;
    /// `$states.errorOutput`, in a Catch.
    fn error_output(&self) -> Option<&Value>;
    /// `$states.context`.
    fn context(&self) -> Value;
    /// A workflow variable visible to this state.
    fn variable(&self, name: &str) -> Option<&Value>;
    /// 64 bits from the engine's randomness.
    fn random_u64(&self) -> u64;
    /// `States.QueryEvaluationError` for this state: the state's prefix, then `detail`;
    /// `field` is where (for the EvaluationFailed event).
    fn fail(&self, field: &str, detail: String) -> StatesError;
}

/// Evaluations for one state: converts each part of `$states` and each variable at most once.
pub(crate) struct Session<'h> {
    host: &'h dyn Host,
    input: OnceCell<JValue>,
    result: OnceCell<JValue>,
    error_output: OnceCell<JValue>,
    context: OnceCell<JValue>,
    variables: RefCell<HashMap<String, Option<JValue>>>,
}

impl<'h> Session<'h> {
    pub(crate) fn new(host: &'h dyn Host) -> Session<'h> {
        Session {
            host,
            input: OnceCell::new(),
            result: OnceCell::new(),
            error_output: OnceCell::new(),
            context: OnceCell::new(),
            variables: RefCell::new(HashMap::new()),
        }
    }

    fn states(&self, needs: &Needs) -> JValue {
        let mut map = indexmap::IndexMap::new();
        if needs.input {
            let v = self.input.get_or_init(|| convert(self.host.input()));
            map.insert("input".to_owned(), v.clone());
        }
        if needs.result {
            if let Some(result) = self.host.result() {
                let v = self.result.get_or_init(|| convert(result));
                map.insert("result".to_owned(), v.clone());
            }
        }
        if needs.error_output {
            if let Some(error) = self.host.error_output() {
                let v = self.error_output.get_or_init(|| convert(error));
                map.insert("errorOutput".to_owned(), v.clone());
            }
        }
        if needs.context {
            let v = self
                .context
                .get_or_init(|| JValue::from(self.host.context()));
            map.insert("context".to_owned(), v.clone());
        }
        JValue::object(map)
    }

    fn variable(&self, name: &str) -> Option<JValue> {
        self.variables
            .borrow_mut()
            .entry(name.to_owned())
            .or_insert_with(|| self.host.variable(name).map(convert))
            .clone()
    }

    fn evaluate(&self, expr: &Expr) -> Result<JValue, EvaluatorError> {
        let mut context = Context::new();
        context.bind("states".into(), self.states(&expr.needs));
        for name in &expr.needs.variables {
            if let Some(value) = self.variable(name) {
                context.bind(name.clone(), value);
            }
        }
        let seed = if expr.needs.random {
            self.host.random_u64()
        } else {
            0
        };
        let mut evaluator = configured(context, Limits::default(), seed);
        evaluator.evaluate(&expr.ast, &JValue::Undefined)
    }

    /// Evaluates an expression that must produce a JSON value; `field` names it in messages.
    pub(crate) fn value(&self, expr: &Expr, field: &str) -> Result<Value, StatesError> {
        let quoted = &expr.text;
        match self.evaluate(expr) {
            Err(e) => Err(self.host.fail(
                field,
                format!(
                    "The JSONata expression '{quoted}' specified for the field '{field}' threw an error during evaluation. {}",
                    aws_message(e.message())
                ),
            )),
            Ok(v) if v.is_undefined() => Err(self.host.fail(
                field,
                format!(
                    "The JSONata expression '{quoted}' specified for the field '{field}' returned nothing (undefined)."
                ),
            )),
            Ok(v) => to_json(&v).ok_or_else(|| {
                self.host.fail(
                    field,
                    format!(
                        "The JSONata expression '{quoted}' specified for the field '{field}' returned an unsupported result type."
                    ),
                )
            }),
        }
    }

    /// Builds a template.
    pub(crate) fn build(&self, tree: &Tree) -> Result<Value, StatesError> {
        match tree {
            Tree::Literal(v) => Ok(v.clone()),
            Tree::Expr { field, expr } => self.value(expr, field),
            Tree::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, tree) in entries {
                    map.insert(key.clone(), self.build(tree)?);
                }
                Ok(Value::Object(map))
            }
            Tree::Array(items) => items
                .iter()
                .map(|t| self.build(t))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }

    /// A value of the wrong type for its field, in AWS's words.
    pub(crate) fn unexpected(
        &self,
        expr: &Expr,
        field: &str,
        expected: &str,
        value: &Value,
    ) -> StatesError {
        self.host.fail(
            field,
            format!(
                "The JSONata expression '{}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{}' for value: {value}",
                expr.text,
                type_name(value)
            ),
        )
    }
}

/// An evaluator message as AWS (jsonata-js) words it: `T1006` names no function there.
fn aws_message(message: &str) -> &str {
    const NOT_A_FUNCTION: &str = "T1006: Attempted to invoke a non-function";
    if message.starts_with(NOT_A_FUNCTION) {
        NOT_A_FUNCTION
    } else {
        message
    }
}

/// A JSON type as AWS names it in messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn convert(value: &Value) -> JValue {
    JValue::from(value.clone())
}

/// The evaluator's value as JSON: `None` for functions and regexes, which have no JSON form.
/// Integral numbers render as integers (`3`, not `3.0`).
fn to_json(value: &JValue) -> Option<Value> {
    if value.is_function() || value.is_regex() {
        return None;
    }
    serde_json::to_value(value).ok()
}

/// Evaluation limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock budget in milliseconds (error D1012 past it).
    pub timeout_ms: u64,
    /// Deepest evaluation stack (error D1011 past it).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: TIMEOUT_MS,
            max_depth: MAX_DEPTH,
        }
    }
}

/// Why an evaluation failed: the JSONata error code (`T2001`) when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationError {
    /// `S0201`, `T2001`, `D3030` …
    pub code: Option<String>,
    /// The evaluator's message (it starts with the code).
    pub message: String,
}

/// Evaluates one expression exactly as Quickstep's states do (same functions, same
/// limits unless `limits` says otherwise), on `input` with `bindings` as variables.
/// `Ok(None)` is JSONata's "undefined" (no result).
pub fn evaluate(
    expression: &str,
    input: Option<&Value>,
    bindings: &Map<String, Value>,
    limits: Limits,
    rng: &dyn Rng,
) -> Result<Option<Value>, EvaluationError> {
    let ast = jsonata_core::parser::parse(expression).map_err(|e| {
        let message = e.to_string();
        EvaluationError {
            code: code_of(&message),
            message,
        }
    })?;
    let mut context = Context::new();
    for (name, value) in bindings {
        context.bind(name.clone(), convert(value));
    }
    let mut evaluator = configured(context, limits, rng.next_u64());
    let data = input.map(convert).unwrap_or(JValue::Undefined);
    match evaluator.evaluate(&ast, &data) {
        Ok(v) if v.is_undefined() => Ok(None),
        Ok(v) => to_json(&v).map(Some).ok_or_else(|| EvaluationError {
            code: None,
            message: "the result is a function, which has no JSON form".into(),
        }),
        Err(e) => Err(EvaluationError {
            code: e.code().map(str::to_owned).or_else(|| code_of(e.message())),
            message: aws_message(e.message()).to_owned(),
        }),
    }
}

/// A JSONata-style code (`[A-Z][0-9]{4}`) anywhere in a message.
fn code_of(message: &str) -> Option<String> {
    let b = message.as_bytes();
    (0..b.len().saturating_sub(4)).find_map(|i| {
        let starts = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let ends = i + 5 >= b.len() || !b[i + 5].is_ascii_alphanumeric();
        (starts
            && ends
            && b[i].is_ascii_uppercase()
            && b[i + 1..i + 5].iter().all(u8::is_ascii_digit))
        .then(|| message[i..i + 5].to_owned())
    })
}

/// An evaluator with Step Functions' functions and limits; `seed` feeds `$random`/`$uuid`.
fn configured(context: Context, limits: Limits, seed: u64) -> Evaluator {
    let mut evaluator = Evaluator::with_options(
        context,
        EvaluatorOptions {
            timeout_ms: Some(limits.timeout_ms),
            max_stack_depth: Some(limits.max_depth),
            max_sequence_length: Some(MAX_SEQUENCE),
            ..EvaluatorOptions::default()
        },
    );
    let state = Rc::new(Cell::new(seed));
    let next = move |state: &Cell<u64>| {
        let z = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(z);
        splitmix(z)
    };
    let random_state = state.clone();
    let results = [
        evaluator.register_fn_override("partition", partition),
        evaluator.register_fn_override("range", range),
        evaluator.register_fn_override("hash", hash),
        evaluator.register_fn_override("parse", parse),
        evaluator.register_fn_override("uuid", move |args: &[JValue]| {
            if !args.is_empty() {
                return Err(argument_error("$uuid takes no arguments"));
            }
            Ok(JValue::string(uuid(next(&state), next(&state))))
        }),
        evaluator.register_fn_override("random", move |args: &[JValue]| match args {
            [] => Ok(JValue::Number(unit(next(&random_state)))),
            [seed] if !seed.is_undefined() => {
                let text = serde_json::to_string(seed).unwrap_or_default();
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in text.bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
                Ok(JValue::Number(unit(splitmix(h))))
            }
            _ => Err(argument_error(
                "$random takes at most one argument (a seed)",
            )),
        }),
        // AWS removes `$eval`: calling it is calling nothing.
        evaluator.register_fn_override("eval", |_: &[JValue]| {
            Err(EvaluatorError::TypeError(
                "T1006: Attempted to invoke a non-function".into(),
            ))
        }),
    ];
    debug_assert!(results.iter().all(Result::is_ok), "{results:?}");
    evaluator
}

fn splitmix(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A float in [0, 1) from 64 random bits.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A version-4 UUID from 128 random bits.
fn uuid(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

fn argument_error(message: &str) -> EvaluatorError {
    EvaluatorError::TypeError(format!("T0410: {message}"))
}

fn integer(value: Option<&JValue>) -> Option<i64> {
    let n = value?.as_f64()?;
    (n.fract() == 0.0 && n.abs() < 9.0e15).then_some(n as i64)
}

/// `$partition(array, size)`: the array in chunks of `size` items (the last may be shorter).
fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let items: Vec<JValue> = match args.first() {
        Some(JValue::Array(items)) => items.iter().cloned().collect(),
        Some(JValue::Undefined) | None => {
            return Err(argument_error("$partition expects an array"))
        }
        Some(single) => vec![single.clone()],
    };
    let size = match integer(args.get(1)) {
        Some(n) if n > 0 => n as usize,
        _ => {
            return Err(argument_error(
                "$partition expects a positive integer chunk size",
            ))
        }
    };
    if args.len() > 2 {
        return Err(argument_error("$partition takes two arguments"));
    }
    let chunks = items
        .chunks(size)
        .map(|chunk| JValue::array(chunk.to_vec()))
        .collect();
    Ok(JValue::array(chunks))
}

/// `$range(start, end, step)`: `start`, `start + step`, … up to and including `end`.
fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let (Some(start), Some(end), Some(step)) = (
        integer(args.first()),
        integer(args.get(1)),
        integer(args.get(2)),
    ) else {
        return Err(argument_error("$range expects three integers"));
    };
    if args.len() > 3 {
        return Err(argument_error("$range takes three arguments"));
    }
    if step == 0 {
        return Err(argument_error("$range step must not be 0"));
    }
    let mut items = Vec::new();
    let mut n = start;
    while (step > 0 && n <= end) || (step < 0 && n >= end) {
        if items.len() == MAX_FUNCTION_ITEMS {
            return Err(argument_error(&format!(
                "$range would produce more than {MAX_FUNCTION_ITEMS} items"
            )));
        }
        items.push(JValue::from_i64(n));
        n = match n.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    // A sequence, as JSONata builds ranges: a single item stands for itself (AWS: `1`).
    Ok(JValue::sequence(items))
}

/// `$hash(data, algorithm)`: the hex digest of a string.
fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let (Some(data), Some(algorithm)) = (
        args.first().and_then(JValue::as_str),
        args.get(1).and_then(JValue::as_str),
    ) else {
        return Err(argument_error(
            "$hash expects a string and an algorithm name",
        ));
    };
    crate::intrinsics::hex_digest(algorithm, data.as_bytes())
        .map(JValue::string)
        .ok_or_else(|| {
            argument_error(&format!(
                "$hash: unknown algorithm '{algorithm}'; use {}",
                crate::intrinsics::HASH_ALGORITHMS
            ))
        })
}

/// `$parse(jsonString)`: the JSON value a string holds.
fn parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let [JValue::String(text)] = args else {
        return Err(argument_error("$parse expects one string"));
    };
    serde_json::from_str::<Value>(text)
        .map(JValue::from)
        .map_err(|e| EvaluatorError::EvaluationError(format!("D3140: $parse: not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpret::SplitMix64;
    use serde_json::json;

    fn eval(expr: &str) -> Result<Option<Value>, EvaluationError> {
        evaluate(
            expr,
            None,
            &Map::new(),
            Limits::default(),
            &SplitMix64::new(1),
        )
    }

    #[test]
    fn numbers_render_as_integers() {
        assert_eq!(eval("1 + 2").unwrap(), Some(json!(3)));
        assert_eq!(eval("1.5 * 2").unwrap().unwrap().to_string(), "3");
    }

    #[test]
    fn step_functions_functions() {
        assert_eq!(
            eval("$partition([1,2,3], 2)").unwrap(),
            Some(json!([[1, 2], [3]]))
        );
        assert_eq!(eval("$range(0, 9, 3)").unwrap(), Some(json!([0, 3, 6, 9])));
        assert_eq!(eval("$range(1, 9, 9)").unwrap(), Some(json!(1)));
        assert_eq!(
            eval("$hash('input data', 'SHA-1')").unwrap(),
            Some(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        assert_eq!(
            eval("$parse('{\"a\": [1]}')").unwrap(),
            Some(json!({"a": [1]}))
        );
        let uuid = eval("$uuid()").unwrap().unwrap();
        assert_eq!(uuid.as_str().unwrap().len(), 36);
        let r = eval("$random()").unwrap().unwrap().as_f64().unwrap();
        assert!((0.0..1.0).contains(&r));
        assert_eq!(eval("$random(7)").unwrap(), eval("$random(7)").unwrap());
    }

    #[test]
    fn eval_is_removed() {
        let e = eval("$eval('1')").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("T1006"));
    }

    #[test]
    fn unknown_function_message() {
        let e = eval("$randomSeeded(1)").unwrap_err();
        assert_eq!(e.message, "T1006: Attempted to invoke a non-function");
    }

    #[test]
    fn runaway_expressions_stop() {
        let deep = eval("($f := function($n){$n = 0 ? 0 : 1 + $f($n - 1)}; $f(100000))");
        assert_eq!(deep.unwrap_err().code.as_deref(), Some("D1011"));
        let spin = eval("($f := function(){$f()}; $f())");
        assert!(spin.is_err());
    }

    #[test]
    fn needs_are_scanned() {
        let n = Needs::scan("$states.input.a + $count + $states . result.x + $uuid()");
        assert!(n.input && n.result && n.random && !n.context && !n.error_output);
        assert_eq!(n.variables, vec!["count".to_owned()]);
        let all = Needs::scan("$keys($states)");
        assert!(all.input && all.result && all.context && all.error_output);
    }
}

//! Definition JSON → `Machine`: states in a `Vec` indexed by `StateId`, paths and intrinsic
//! calls parsed, templates compiled. It reads state types and query languages through
//! `crate::model`, the vocabulary `validate` checks them with, so the two cannot disagree on
//! what a definition says; AWS's diagnostics stay `validate`'s, this pass only assumes them.

use super::choice::{Condition, Operand, Operator, Rule, Test};
use super::template::Template;
use crate::error::ErrorName;
use crate::intrinsics::{self, Call};
use crate::jsonata::{Expr, Tree};
use crate::model::{QueryLanguage, StateType};
use crate::path::Path;
use crate::validate::{self, Diagnostic, DiagnosticCode, MachineType, Severity};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Index of a state within its branch.
pub(crate) type StateId = usize;

/// A compiled state machine: parse and compile once, run many times.
#[derive(Debug)]
pub struct Machine {
    pub(crate) root: Branch,
    pub(crate) timeout_seconds: Option<u64>,
    /// Whether anything may read `$$.Execution.Input`; if not, a run keeps no copy of it.
    pub(crate) reads_execution_input: bool,
}

/// A list of states with a start: the machine itself, a Parallel branch or a Map processor.
#[derive(Debug)]
pub(crate) struct Branch {
    pub states: Vec<State>,
    pub start: StateId,
}

#[derive(Debug)]
pub(crate) struct State {
    pub name: String,
    pub input_path: Selection,
    pub output_path: Selection,
    pub result_path: ResultPath,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub assign: Option<Template>,
    pub transition: Transition,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub kind: Kind,
    /// The JSONata data flow, for states whose QueryLanguage is JSONata (then the JSONPath
    /// fields above are at their defaults).
    pub jsonata: Option<Box<JsonataFields>>,
}

/// A JSONata state's `Arguments`, `Output` and `Assign`.
#[derive(Debug, Default)]
pub(crate) struct JsonataFields {
    pub arguments: Option<Tree>,
    pub output: Option<Tree>,
    pub assign: Option<Tree>,
}

/// `InputPath` / `OutputPath`.
#[derive(Debug)]
pub(crate) enum Selection {
    /// `$` or absent: everything.
    Whole,
    /// `null`: `{}`.
    Discard,
    Path(Path),
}

/// `ResultPath`.
#[derive(Debug)]
pub(crate) enum ResultPath {
    /// `$` or absent: the result replaces the input.
    Replace,
    /// `null`: the result is discarded; the output is the input.
    Discard,
    At(Path),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Transition {
    Next(StateId),
    End,
}

#[derive(Debug)]
pub(crate) struct Retrier {
    pub errors: Vec<ErrorName>,
    pub interval_seconds: f64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Jitter {
    Full,
    None,
}

#[derive(Debug)]
pub(crate) struct Catcher {
    pub errors: Vec<ErrorName>,
    pub result_path: ResultPath,
    pub assign: Option<Template>,
    pub next: StateId,
    /// A JSONata catcher's `Output` and `Assign` (`arguments` unused).
    pub jsonata: Option<JsonataFields>,
}

/// A number written literally or read from the input through a `…Path` field.
#[derive(Debug)]
pub(crate) enum Count {
    Literal(Value),
    Path(Path),
    Expr(Box<Expr>),
}

/// A string written literally, read through a path, or computed by an intrinsic call.
#[derive(Debug)]
pub(crate) enum Text {
    Literal(String),
    Path(Path),
    Call(Call),
    Expr(Box<Expr>),
}

#[derive(Debug)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
        /// Whether `result` is within the payload limit: known once here, not checked on
        /// every run.
        result_fits: bool,
    },
    Task(Task),
    Choice {
        rules: Vec<(Rule, StateId)>,
        default: Option<StateId>,
    },
    Wait(Wait),
    Succeed,
    Fail {
        error: Option<Text>,
        cause: Option<Text>,
    },
    Parallel {
        branches: Vec<Branch>,
    },
    Map(Box<MapState>),
}

#[derive(Debug)]
pub(crate) struct Task {
    pub resource: String,
    pub timeout: Option<Count>,
    pub heartbeat: Option<Count>,
    pub credentials: Option<Value>,
    pub events: TaskEvents,
    pub wait_for_token: bool,
}

/// Which history events a task produces: Lambda ARNs have their own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TaskEvents {
    Lambda,
    Task,
}

#[derive(Debug)]
pub(crate) enum Wait {
    Seconds(Value),
    SecondsPath(Path),
    Timestamp(String),
    TimestampPath(Path),
    SecondsExpr(Box<Expr>),
    TimestampExpr(Box<Expr>),
}

#[derive(Debug)]
pub(crate) struct MapState {
    pub items_path: Option<Path>,
    pub item_selector: Option<Template>,
    /// JSONata `Items` (an array template or an expression).
    pub items: Option<Tree>,
    /// JSONata `ItemSelector`.
    pub jsonata_item_selector: Option<Tree>,
    pub processor: Branch,
    pub max_concurrency: Option<Count>,
    pub mode: MapMode,
    pub tolerated_failure_count: Option<Count>,
    pub tolerated_failure_percentage: Option<Count>,
    pub batcher: Option<ItemBatcher>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum MapMode {
    Inline,
    Distributed,
}

#[derive(Debug)]
pub(crate) struct ItemBatcher {
    pub max_items: Option<Count>,
    pub max_input_bytes: Option<Count>,
    pub batch_input: Option<Template>,
}

/// Why a definition does not compile: where, and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at {location}")]
pub struct CompileError {
    /// JSON pointer to the offending field.
    pub location: String,
    /// What is wrong, naming the culprit.
    pub message: String,
}

type Result<T> = std::result::Result<T, CompileError>;

/// Why a definition is refused: every diagnostic, as AWS reports them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", validate::aws_message(&self.diagnostics))]
pub struct DefinitionError {
    /// The problems found (errors, and warnings alongside them).
    pub diagnostics: Vec<Diagnostic>,
}

impl Machine {
    /// Validates and compiles a definition: the one way in for definitions from users.
    pub fn from_definition(
        definition: &Value,
        machine_type: MachineType,
    ) -> std::result::Result<Machine, DefinitionError> {
        let diagnostics = validate::validate_for(definition, machine_type);
        if validate::has_errors(&diagnostics) {
            return Err(DefinitionError { diagnostics });
        }
        // Validation accepted it, so a compile error is a check validation lacks: report it
        // the same way rather than panic.
        compile(definition).map_err(|e| DefinitionError {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                code: DiagnosticCode::SchemaValidationFailed,
                message: e.message,
                location: e.location,
            }],
        })
    }

    /// Compiles a definition without validating it first (tests, fuzzing).
    pub fn compile(definition: &Value) -> Result<Machine> {
        compile(definition)
    }
}

/// Compiles a definition (a JSON object with `StartAt` and `States`).
fn compile(definition: &Value) -> Result<Machine> {
    let language = match definition.get("QueryLanguage").map(QueryLanguage::parse) {
        None => QueryLanguage::JsonPath,
        Some(Some(language)) => language,
        Some(None) => {
            return Err(error(
                "/QueryLanguage",
                "QueryLanguage must be JSONPath or JSONata",
            ))
        }
    };
    let root = compile_branch(definition, "", language)?;
    let timeout_seconds = match definition.get("TimeoutSeconds") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            error(
                "/TimeoutSeconds",
                "TimeoutSeconds must be a positive integer",
            )
        })?),
    };
    // Conservative: any `$$` path or JSONata `$states.context` might reach the input.
    let text = definition.to_string();
    let reads_execution_input = text.contains("$$") || text.contains("context");
    Ok(Machine {
        root,
        timeout_seconds,
        reads_execution_input,
    })
}

fn error(location: &str, message: impl Into<String>) -> CompileError {
    CompileError {
        location: location.to_owned(),
        message: message.into(),
    }
}

/// `language`: the machine's QueryLanguage (states inherit it unless they say).
fn compile_branch(value: &Value, at: &str, language: QueryLanguage) -> Result<Branch> {
    let object = value
        .as_object()
        .ok_or_else(|| error(at, "a state machine must be an object"))?;
    let states = object
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| error(at, "the field 'States' is required and must be an object"))?;
    let ids: HashMap<&str, StateId> = states
        .keys()
        .enumerate()
        .map(|(id, name)| (name.as_str(), id))
        .collect();
    let start_name = object
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| error(at, "the field 'StartAt' is required"))?;
    let start = *ids.get(start_name).ok_or_else(|| {
        error(
            &format!("{at}/StartAt"),
            format!("StartAt '{start_name}' is not a state"),
        )
    })?;
    let compiled = states
        .iter()
        .map(|(name, state)| {
            let at = format!("{at}/States/{}", pointer_escape(name));
            compile_state(name, state, &at, &ids, language)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Branch {
        states: compiled,
        start,
    })
}

fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

struct Fields<'a> {
    map: &'a Map<String, Value>,
    at: &'a str,
    /// The state's QueryLanguage is JSONata: `{% %}` strings are expressions.
    jsonata: bool,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn here(&self, key: &str) -> String {
        format!("{}/{}", self.at, key)
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(error(
                &self.here(key),
                format!("the field '{key}' must be a string"),
            )),
        }
    }

    fn path(&self, key: &str) -> Result<Option<Path>> {
        self.string(key)?
            .map(|text| Path::parse(text).map_err(|e| error(&self.here(key), e.to_string())))
            .transpose()
    }

    fn template(&self, key: &str) -> Result<Option<Template>> {
        self.map
            .get(key)
            .map(|v| {
                Template::compile(v)
                    .map_err(|e| error(&format!("{}/{}", self.here(key), e.field), e.message))
            })
            .transpose()
    }

    /// A JSONata template (`Output`, `Assign` …), named `key` in messages.
    fn tree(&self, key: &str) -> Result<Option<Tree>> {
        self.map
            .get(key)
            .map(|v| {
                Tree::compile(v, key)
                    .map_err(|(field, message)| error(&format!("{}/{}", self.at, field), message))
            })
            .transpose()
    }

    /// A `{% %}` expression at `key`, when the state is JSONata and the value is one.
    fn expr(&self, key: &str) -> Result<Option<Box<Expr>>> {
        if !self.jsonata {
            return Ok(None);
        }
        match self.map.get(key) {
            None => Ok(None),
            Some(v) => Expr::from_value(v)
                .map(|e| e.map(Box::new))
                .map_err(|message| error(&self.here(key), message)),
        }
    }

    fn count(&self, key: &str) -> Result<Option<Count>> {
        if let Some(expr) = self.expr(key)? {
            return Ok(Some(Count::Expr(expr)));
        }
        let path_key = format!("{key}Path");
        match (self.map.get(key), self.path(&path_key)?) {
            (Some(_), Some(_)) => Err(error(
                self.at,
                format!("'{key}' and '{path_key}' are mutually exclusive"),
            )),
            (Some(v), None) => Ok(Some(Count::Literal(v.clone()))),
            (None, Some(p)) => Ok(Some(Count::Path(p))),
            (None, None) => Ok(None),
        }
    }

    fn selection(&self, key: &str) -> Result<Selection> {
        match self.map.get(key) {
            None => Ok(Selection::Whole),
            Some(Value::Null) => Ok(Selection::Discard),
            Some(Value::String(s)) if s == "$" => Ok(Selection::Whole),
            Some(_) => Ok(Selection::Path(
                self.path(key)?.expect("a string, checked above"),
            )),
        }
    }

    fn result_path(&self, key: &str) -> Result<ResultPath> {
        match self.map.get(key) {
            None => Ok(ResultPath::Replace),
            Some(Value::Null) => Ok(ResultPath::Discard),
            Some(Value::String(s)) if s == "$" => Ok(ResultPath::Replace),
            Some(_) => {
                let path = self.path(key)?.expect("a string, checked above");
                if !path.is_definite() {
                    return Err(error(
                        &self.here(key),
                        format!("ResultPath '{}' must be a reference path", path.as_str()),
                    ));
                }
                Ok(ResultPath::At(path))
            }
        }
    }

    fn text(&self, key: &str) -> Result<Option<Text>> {
        if let Some(expr) = self.expr(key)? {
            return Ok(Some(Text::Expr(expr)));
        }
        let path_key = format!("{key}Path");
        if let Some(literal) = self.string(key)? {
            return Ok(Some(Text::Literal(literal.to_owned())));
        }
        match self.string(&path_key)? {
            None => Ok(None),
            Some(text) if intrinsics::looks_like_call(text) => Call::parse(text)
                .map(|c| Some(Text::Call(c)))
                .map_err(|e| error(&self.here(&path_key), e.message)),
            Some(text) => Path::parse(text)
                .map(|p| Some(Text::Path(p)))
                .map_err(|e| error(&self.here(&path_key), e.to_string())),
        }
    }
}

fn target(ids: &HashMap<&str, StateId>, name: &Value, at: &str) -> Result<StateId> {
    let name = name
        .as_str()
        .ok_or_else(|| error(at, "'Next' must be a string"))?;
    ids.get(name)
        .copied()
        .ok_or_else(|| error(at, format!("Missing 'Next' target: {name}")))
}

fn compile_state(
    name: &str,
    value: &Value,
    at: &str,
    ids: &HashMap<&str, StateId>,
    machine_language: QueryLanguage,
) -> Result<State> {
    let map = value
        .as_object()
        .ok_or_else(|| error(at, "a state must be an object"))?;
    let jsonata = match map.get("QueryLanguage").map(QueryLanguage::parse) {
        None => machine_language == QueryLanguage::Jsonata,
        Some(Some(language)) => language == QueryLanguage::Jsonata,
        Some(None) => {
            return Err(error(
                &format!("{at}/QueryLanguage"),
                "QueryLanguage must be JSONPath or JSONata",
            ))
        }
    };
    let fields = Fields { map, at, jsonata };
    let state_type = fields
        .string("Type")?
        .ok_or_else(|| error(at, "the field 'Type' is required"))?;
    let transition = match (fields.get("Next"), fields.get("End")) {
        (Some(next), _) => Transition::Next(target(ids, next, &fields.here("Next"))?),
        _ => Transition::End,
    };
    let Some(state_type) = StateType::parse(state_type) else {
        return Err(error(
            &fields.here("Type"),
            format!("unknown state type '{state_type}'"),
        ));
    };
    let kind = match state_type {
        StateType::Pass => {
            let result = fields.get("Result").cloned();
            Kind::Pass {
                result_fits: result
                    .as_ref()
                    .is_some_and(|r| super::size::fits(r, super::PAYLOAD_LIMIT_BYTES)),
                result,
            }
        }
        StateType::Task => {
            let resource = fields
                .string("Resource")?
                .ok_or_else(|| error(at, "the field 'Resource' is required"))?;
            Kind::Task(Task {
                resource: resource.to_owned(),
                timeout: fields.count("TimeoutSeconds")?,
                heartbeat: fields.count("HeartbeatSeconds")?,
                credentials: fields.get("Credentials").cloned(),
                events: if resource.starts_with("arn:aws:lambda:") {
                    TaskEvents::Lambda
                } else {
                    TaskEvents::Task
                },
                wait_for_token: resource.ends_with(".waitForTaskToken"),
            })
        }
        StateType::Choice => {
            let choices = fields
                .get("Choices")
                .and_then(Value::as_array)
                .ok_or_else(|| error(at, "the field 'Choices' is required"))?;
            let rules = choices
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let at = format!("{at}/Choices/{i}");
                    let next = rule
                        .get("Next")
                        .ok_or_else(|| error(&at, "a choice rule needs 'Next'"))?;
                    let rule = if jsonata {
                        compile_condition(rule, &at)?
                    } else {
                        compile_rule(rule, &at, 0)?
                    };
                    Ok((rule, target(ids, next, &format!("{at}/Next"))?))
                })
                .collect::<Result<Vec<_>>>()?;
            let default = fields
                .get("Default")
                .map(|d| target(ids, d, &fields.here("Default")))
                .transpose()?;
            Kind::Choice { rules, default }
        }
        StateType::Wait => Kind::Wait(if let Some(expr) = fields.expr("Seconds")? {
            Wait::SecondsExpr(expr)
        } else if let Some(expr) = fields.expr("Timestamp")? {
            Wait::TimestampExpr(expr)
        } else if let Some(seconds) = fields.get("Seconds") {
            Wait::Seconds(seconds.clone())
        } else if let Some(path) = fields.path("SecondsPath")? {
            Wait::SecondsPath(path)
        } else if let Some(stamp) = fields.string("Timestamp")? {
            Wait::Timestamp(stamp.to_owned())
        } else if let Some(path) = fields.path("TimestampPath")? {
            Wait::TimestampPath(path)
        } else {
            return Err(error(
                at,
                "a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath",
            ));
        }),
        StateType::Succeed => Kind::Succeed,
        StateType::Fail => Kind::Fail {
            error: fields.text("Error")?,
            cause: fields.text("Cause")?,
        },
        StateType::Parallel => {
            let branches = fields
                .get("Branches")
                .and_then(Value::as_array)
                .ok_or_else(|| error(at, "the field 'Branches' is required"))?;
            Kind::Parallel {
                branches: branches
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        compile_branch(b, &format!("{at}/Branches/{i}"), machine_language)
                    })
                    .collect::<Result<_>>()?,
            }
        }
        StateType::Map => Kind::Map(Box::new(compile_map(&fields, machine_language)?)),
    };
    let retry = match fields.get("Retry") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .ok_or_else(|| error(&fields.here("Retry"), "'Retry' must be an array"))?
            .iter()
            .enumerate()
            .map(|(i, r)| compile_retrier(r, &format!("{at}/Retry/{i}")))
            .collect::<Result<_>>()?,
    };
    let catch = match fields.get("Catch") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .ok_or_else(|| error(&fields.here("Catch"), "'Catch' must be an array"))?
            .iter()
            .enumerate()
            .map(|(i, c)| compile_catcher(c, &format!("{at}/Catch/{i}"), ids, jsonata))
            .collect::<Result<_>>()?,
    };
    Ok(State {
        name: name.to_owned(),
        input_path: fields.selection("InputPath")?,
        output_path: fields.selection("OutputPath")?,
        result_path: fields.result_path("ResultPath")?,
        // A Map's `Parameters` is the legacy spelling of `ItemSelector`, compiled there.
        parameters: if matches!(kind, Kind::Map(_)) {
            None
        } else {
            fields.template("Parameters")?
        },
        result_selector: fields.template("ResultSelector")?,
        assign: if jsonata {
            None
        } else {
            fields.template("Assign")?
        },
        transition,
        retry,
        catch,
        kind,
        jsonata: if jsonata {
            Some(Box::new(JsonataFields {
                arguments: fields.tree("Arguments")?,
                output: fields.tree("Output")?,
                assign: fields.tree("Assign")?,
            }))
        } else {
            None
        },
    })
}

fn error_names(value: Option<&Value>, at: &str) -> Result<Vec<ErrorName>> {
    value
        .and_then(Value::as_array)
        .ok_or_else(|| error(at, "'ErrorEquals' is required and must be an array"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(ErrorName::parse)
                .ok_or_else(|| error(at, "error names must be strings"))
        })
        .collect()
}

fn number(value: Option<&Value>, default: f64, at: &str, field: &str) -> Result<f64> {
    match value {
        None => Ok(default),
        Some(v) => v.as_f64().ok_or_else(|| {
            error(
                &format!("{at}/{field}"),
                format!("'{field}' must be a number"),
            )
        }),
    }
}

fn compile_retrier(value: &Value, at: &str) -> Result<Retrier> {
    let max_attempts = number(value.get("MaxAttempts"), 3.0, at, "MaxAttempts")?;
    Ok(Retrier {
        errors: error_names(value.get("ErrorEquals"), &format!("{at}/ErrorEquals"))?,
        interval_seconds: number(value.get("IntervalSeconds"), 1.0, at, "IntervalSeconds")?,
        max_attempts: max_attempts.max(0.0) as u64,
        backoff_rate: number(value.get("BackoffRate"), 2.0, at, "BackoffRate")?,
        max_delay_seconds: value.get("MaxDelaySeconds").and_then(Value::as_f64),
        jitter: match value.get("JitterStrategy").and_then(Value::as_str) {
            Some("FULL") => Jitter::Full,
            _ => Jitter::None,
        },
    })
}

fn compile_catcher(
    value: &Value,
    at: &str,
    ids: &HashMap<&str, StateId>,
    jsonata: bool,
) -> Result<Catcher> {
    let map = value
        .as_object()
        .ok_or_else(|| error(at, "a catcher must be an object"))?;
    let fields = Fields { map, at, jsonata };
    let next = fields
        .get("Next")
        .ok_or_else(|| error(at, "a catcher needs 'Next'"))?;
    Ok(Catcher {
        errors: error_names(fields.get("ErrorEquals"), &fields.here("ErrorEquals"))?,
        result_path: fields.result_path("ResultPath")?,
        assign: if jsonata {
            None
        } else {
            fields.template("Assign")?
        },
        next: target(ids, next, &fields.here("Next"))?,
        jsonata: if jsonata {
            Some(JsonataFields {
                arguments: None,
                output: fields.tree("Output")?,
                assign: fields.tree("Assign")?,
            })
        } else {
            None
        },
    })
}

fn compile_map(fields: &Fields<'_>, machine_language: QueryLanguage) -> Result<MapState> {
    let at = fields.at;
    let (processor_value, processor_at) =
        match (fields.get("ItemProcessor"), fields.get("Iterator")) {
            (Some(p), _) => (p, fields.here("ItemProcessor")),
            (None, Some(i)) => (i, fields.here("Iterator")),
            (None, None) => return Err(error(at, "a Map state needs 'ItemProcessor'")),
        };
    let mode = match processor_value
        .pointer("/ProcessorConfig/Mode")
        .and_then(Value::as_str)
    {
        Some("DISTRIBUTED") => MapMode::Distributed,
        _ => MapMode::Inline,
    };
    let batcher = match fields.get("ItemBatcher") {
        None => None,
        Some(Value::Object(map)) => {
            let at = fields.here("ItemBatcher");
            let inner = Fields {
                map,
                at: &at,
                jsonata: fields.jsonata,
            };
            Some(ItemBatcher {
                max_items: inner.count("MaxItemsPerBatch")?,
                max_input_bytes: inner.count("MaxInputBytesPerBatch")?,
                batch_input: inner.template("BatchInput")?,
            })
        }
        Some(_) => {
            return Err(error(
                &fields.here("ItemBatcher"),
                "'ItemBatcher' must be an object",
            ))
        }
    };
    if fields.get("ItemSelector").is_some() && fields.get("Parameters").is_some() {
        return Err(error(
            at,
            "'ItemSelector' and 'Parameters' are mutually exclusive",
        ));
    }
    let item_selector = if fields.jsonata {
        None
    } else {
        match fields.template("ItemSelector")? {
            Some(t) => Some(t),
            None => fields.template("Parameters")?,
        }
    };
    let (items, jsonata_item_selector) = if fields.jsonata {
        (fields.tree("Items")?, fields.tree("ItemSelector")?)
    } else {
        (None, None)
    };
    Ok(MapState {
        items_path: match fields.selection("ItemsPath")? {
            Selection::Path(p) => Some(p),
            _ => None,
        },
        item_selector,
        items,
        jsonata_item_selector,
        processor: compile_branch(processor_value, &processor_at, machine_language)?,
        max_concurrency: fields.count("MaxConcurrency")?,
        mode,
        tolerated_failure_count: fields.count("ToleratedFailureCount")?,
        tolerated_failure_percentage: fields.count("ToleratedFailurePercentage")?,
        batcher,
    })
}

/// A JSONata Choice Rule: `Condition` (an expression or a boolean), with its own `Output`
/// and `Assign`.
fn compile_condition(value: &Value, at: &str) -> Result<Rule> {
    let map = value
        .as_object()
        .ok_or_else(|| error(at, "a choice rule must be an object"))?;
    let fields = Fields {
        map,
        at,
        jsonata: true,
    };
    let test = match fields.get("Condition") {
        Some(Value::Bool(b)) => Test::Literal(*b),
        Some(_) => Test::Expr(fields.expr("Condition")?.ok_or_else(|| {
            error(
                &fields.here("Condition"),
                "'Condition' must be a JSONata expression or a boolean",
            )
        })?),
        None => return Err(error(at, "a JSONata choice rule needs 'Condition'")),
    };
    Ok(Rule::Condition(Box::new(Condition {
        test,
        output: fields.tree("Output")?,
        assign: fields.tree("Assign")?,
    })))
}

/// Deepest nesting of And/Or/Not accepted; past it the definition is rejected, not run.
const MAX_RULE_DEPTH: usize = 64;

fn compile_rule(value: &Value, at: &str, depth: usize) -> Result<Rule> {
    if depth > MAX_RULE_DEPTH {
        return Err(error(at, "choice rules are nested too deeply"));
    }
    let map = value
        .as_object()
        .ok_or_else(|| error(at, "a choice rule must be an object"))?;
    let nested = |key: &str| -> Result<Vec<Rule>> {
        map[key]
            .as_array()
            .ok_or_else(|| error(&format!("{at}/{key}"), format!("'{key}' must be an array")))?
            .iter()
            .enumerate()
            .map(|(i, r)| compile_rule(r, &format!("{at}/{key}/{i}"), depth + 1))
            .collect()
    };
    if map.contains_key("And") {
        return Ok(Rule::And(nested("And")?));
    }
    if map.contains_key("Or") {
        return Ok(Rule::Or(nested("Or")?));
    }
    if let Some(inner) = map.get("Not") {
        return Ok(Rule::Not(Box::new(compile_rule(
            inner,
            &format!("{at}/Not"),
            depth + 1,
        )?)));
    }
    let variable = map
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or_else(|| error(at, "a choice rule needs 'Variable'"))?;
    let variable =
        Path::parse(variable).map_err(|e| error(&format!("{at}/Variable"), e.to_string()))?;
    for (key, operand) in map {
        if matches!(key.as_str(), "Variable" | "Next" | "Comment" | "Assign") {
            continue;
        }
        let (name, is_path) = match key.strip_suffix("Path") {
            // `IsPresent` etc. never end in Path; `*Path` forms take a path operand.
            Some(base) if Operator::parse(base).is_some() => (base, true),
            _ => (key.as_str(), false),
        };
        let Some(operator) = Operator::parse(name) else {
            return Err(error(
                &format!("{at}/{key}"),
                format!("unknown comparison operator '{key}'"),
            ));
        };
        let operand = if is_path {
            let text = operand
                .as_str()
                .ok_or_else(|| error(&format!("{at}/{key}"), format!("'{key}' must be a path")))?;
            Operand::Path(
                Path::parse(text).map_err(|e| error(&format!("{at}/{key}"), e.to_string()))?,
            )
        } else {
            operator
                .literal(operand)
                .map_err(|message| error(&format!("{at}/{key}"), message))?
        };
        return Ok(Rule::Compare {
            variable,
            operator,
            operand,
        });
    }
    Err(error(at, "a choice rule needs a comparison operator"))
}

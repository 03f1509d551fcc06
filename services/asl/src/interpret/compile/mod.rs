//! The typed definition (`crate::model::definition`, the one `validate` judges) → `Machine`:
//! states in a `Vec` indexed by `StateId`, paths and intrinsic calls parsed, templates
//! compiled. AWS's diagnostics stay `validate`'s; this pass assumes them, and only says why
//! when handed a definition it cannot run (`Machine::compile` without validation).

use super::choice::{Condition, Operand, Operator, Rule, Test};
use super::template::Template;
use crate::error::ErrorName;
use crate::intrinsics::Call;
use crate::jsonata::{Expr, Tree};
use crate::model::definition::{self as model, Field, StateMachine, SubMachine};
pub(crate) use crate::model::definition::{Jitter, MapMode};
use crate::model::QueryLanguage;
use crate::path::Path;
use crate::validate::{self, Diagnostic, DiagnosticCode, MachineType, Severity};
use serde_json::Value;
use std::collections::HashMap;

mod fields;
#[cfg(test)]
mod tests;

use fields::{error_names, number, target, Ctx};

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
    /// Whether the run loop works this state on the value it holds (`State::steps_in_place`).
    pub in_place: bool,
}

impl State {
    /// A JSONPath Pass, Choice or Succeed with no Retry or Catch, InputPath, OutputPath,
    /// ResultSelector or Assign (a Choice Rule's own Assign is fine), and a Pass with not
    /// both Result and Parameters: between the value the state receives and its work
    /// there is nothing, so `Run::step_in_place` can read the value where it is and
    /// replace or write into it, with none of the general data flow's intermediate values.
    fn steps_in_place(&self) -> bool {
        let plain_flow = self.jsonata.is_none()
            && self.retry.is_empty()
            && self.catch.is_empty()
            && matches!(self.input_path, Selection::Whole)
            && matches!(self.output_path, Selection::Whole)
            && self.result_selector.is_none()
            && self.assign.is_none();
        plain_flow
            && match &self.kind {
                Kind::Pass { result, .. } => result.is_none() || self.parameters.is_none(),
                Kind::Choice { rules, .. } => {
                    self.parameters.is_none()
                        && rules
                            .iter()
                            .all(|(rule, _, _)| !matches!(rule, Rule::Condition(_)))
                }
                Kind::Succeed => self.parameters.is_none(),
                _ => false,
            }
    }
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
        /// Each rule, its `Next`, and (JSONPath) the `Assign` it applies when it matches.
        rules: Vec<(Rule, StateId, Option<Template>)>,
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
    /// Validates and compiles a definition: the one way in for definitions from users. The
    /// definition is read into the model once; validate and compile both work on it.
    pub fn from_definition(
        definition: &Value,
        machine_type: MachineType,
    ) -> std::result::Result<Machine, DefinitionError> {
        let model = StateMachine::read(definition);
        let diagnostics = validate::validate_model(model.as_ref(), machine_type);
        let Some(model) = model.filter(|_| !validate::has_errors(&diagnostics)) else {
            return Err(DefinitionError { diagnostics });
        };
        // Validation accepted it, so a compile error is a check validation lacks: report it
        // the same way rather than panic.
        compile(&model, definition).map_err(|e| DefinitionError {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                code: DiagnosticCode::SchemaValidationFailed,
                message: e.message,
                location: e.location,
                hint: None,
            }],
        })
    }

    /// Compiles a definition without validating it first (tests, fuzzing).
    pub fn compile(definition: &Value) -> Result<Machine> {
        let model = StateMachine::read(definition)
            .ok_or_else(|| error("", "a state machine must be an object"))?;
        compile(&model, definition)
    }
}

/// Compiles a definition read into `model` from `definition`.
fn compile(model: &StateMachine<'_>, definition: &Value) -> Result<Machine> {
    let language = match model.query_language {
        Field::Absent => QueryLanguage::JsonPath,
        Field::Ok(language) => language,
        Field::Wrong(_) => {
            return Err(error(
                "/QueryLanguage",
                "QueryLanguage must be JSONPath or JSONata",
            ))
        }
    };
    let root = compile_branch(model, "", language)?;
    let timeout_error = || {
        error(
            "/TimeoutSeconds",
            "TimeoutSeconds must be a positive integer",
        )
    };
    let timeout_seconds = match &model.timeout_seconds {
        Field::Absent => None,
        Field::Ok(n) => Some(n.as_u64().ok_or_else(timeout_error)?),
        Field::Wrong(_) => return Err(timeout_error()),
    };
    // Conservative: any `$$` path or JSONata `$states.context` anywhere in the text might
    // reach the input, so this one question is asked of the JSON as written.
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

/// A Parallel branch or Map processor.
fn compile_sub(sub: &SubMachine<'_>, at: &str, language: QueryLanguage) -> Result<Branch> {
    match sub {
        Field::Ok(machine) => compile_branch(machine, at, language),
        _ => Err(error(at, "a state machine must be an object")),
    }
}

/// `language`: the machine's QueryLanguage (states inherit it unless they say).
fn compile_branch(machine: &StateMachine<'_>, at: &str, language: QueryLanguage) -> Result<Branch> {
    let Field::Ok(states) = &machine.states else {
        return Err(error(
            at,
            "the field 'States' is required and must be an object",
        ));
    };
    let ids: HashMap<&str, StateId> = states
        .iter()
        .enumerate()
        .map(|(id, named)| (named.name, id))
        .collect();
    let Field::Ok(start_name) = &machine.start_at else {
        return Err(error(at, "the field 'StartAt' is required"));
    };
    let start = *ids.get(start_name).ok_or_else(|| {
        error(
            &format!("{at}/StartAt"),
            format!("StartAt '{start_name}' is not a state"),
        )
    })?;
    let compiled = states
        .iter()
        .map(|named| {
            let at = format!("{at}/States/{}", pointer_escape(named.name));
            compile_state(named, &at, &ids, language)
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

fn compile_state(
    named: &model::NamedState,
    at: &str,
    ids: &HashMap<&str, StateId>,
    machine_language: QueryLanguage,
) -> Result<State> {
    let Field::Ok(state) = &named.state else {
        return Err(error(at, "a state must be an object"));
    };
    let jsonata = match state.query_language {
        Field::Absent => machine_language == QueryLanguage::Jsonata,
        Field::Ok(language) => language == QueryLanguage::Jsonata,
        Field::Wrong(_) => {
            return Err(error(
                &format!("{at}/QueryLanguage"),
                "QueryLanguage must be JSONPath or JSONata",
            ))
        }
    };
    let ctx = Ctx { at, jsonata };
    match &state.kind {
        Field::Absent => return Err(error(at, "the field 'Type' is required")),
        Field::Wrong(raw) if !raw.is_string() => {
            return Err(error(
                &ctx.here("Type"),
                "the field 'Type' must be a string",
            ))
        }
        _ => {}
    }
    let transition = match &state.next {
        Field::Absent => Transition::End,
        next => Transition::Next(target(ids, next, &ctx.here("Next"))?),
    };
    let kind = match &state.kind {
        Field::Ok(kind) => kind,
        other => {
            let name = match other {
                Field::Wrong(Value::String(name)) => name.as_str(),
                _ => "",
            };
            return Err(error(
                &ctx.here("Type"),
                format!("unknown state type '{name}'"),
            ));
        }
    };
    let kind = compile_kind(kind, state, &ctx, ids, machine_language)?;
    let retry = match &state.retry {
        Field::Absent => Vec::new(),
        Field::Ok(list) => list
            .iter()
            .enumerate()
            .map(|(i, r)| compile_retrier(r, &format!("{at}/Retry/{i}")))
            .collect::<Result<_>>()?,
        Field::Wrong(_) => return Err(error(&ctx.here("Retry"), "'Retry' must be an array")),
    };
    let catch = match &state.catch {
        Field::Absent => Vec::new(),
        Field::Ok(list) => list
            .iter()
            .enumerate()
            .map(|(i, c)| compile_catcher(c, &format!("{at}/Catch/{i}"), ids, jsonata))
            .collect::<Result<_>>()?,
        Field::Wrong(_) => return Err(error(&ctx.here("Catch"), "'Catch' must be an array")),
    };
    let mut compiled = State {
        name: named.name.to_owned(),
        input_path: ctx.selection("InputPath", &state.input_path)?,
        output_path: ctx.selection("OutputPath", &state.output_path)?,
        result_path: ctx.result_path("ResultPath", &state.result_path)?,
        // A Map's `Parameters` is the legacy spelling of `ItemSelector`, compiled there.
        parameters: if matches!(kind, Kind::Map(_)) {
            None
        } else {
            ctx.template("Parameters", state.parameters)?
        },
        result_selector: ctx.template("ResultSelector", state.result_selector)?,
        assign: if jsonata {
            None
        } else {
            ctx.template("Assign", state.assign)?
        },
        transition,
        retry,
        catch,
        kind,
        jsonata: if jsonata {
            Some(Box::new(JsonataFields {
                arguments: ctx.tree("Arguments", state.arguments)?,
                output: ctx.tree("Output", state.output)?,
                assign: ctx.tree("Assign", state.assign)?,
            }))
        } else {
            None
        },
        in_place: false,
    };
    compiled.in_place = compiled.steps_in_place();
    Ok(compiled)
}

/// The part of a state particular to its type.
fn compile_kind(
    kind: &model::Kind,
    state: &model::State,
    ctx: &Ctx<'_>,
    ids: &HashMap<&str, StateId>,
    machine_language: QueryLanguage,
) -> Result<Kind> {
    let at = ctx.at;
    Ok(match kind {
        model::Kind::Pass(pass) => Kind::Pass {
            result_fits: pass
                .result
                .as_ref()
                .is_some_and(|r| super::size::fits(r, super::PAYLOAD_LIMIT_BYTES)),
            result: pass.result.cloned(),
        },
        model::Kind::Task(task) => {
            let resource = match &task.resource {
                Field::Ok(resource) => *resource,
                Field::Absent => return Err(error(at, "the field 'Resource' is required")),
                Field::Wrong(_) => {
                    return Err(error(
                        &ctx.here("Resource"),
                        "the field 'Resource' must be a string",
                    ))
                }
            };
            Kind::Task(Task {
                resource: resource.to_owned(),
                timeout: ctx.count(
                    "TimeoutSeconds",
                    task.timeout_seconds,
                    &task.timeout_seconds_path,
                )?,
                heartbeat: ctx.count(
                    "HeartbeatSeconds",
                    task.heartbeat_seconds,
                    &task.heartbeat_seconds_path,
                )?,
                credentials: task.credentials.cloned(),
                events: if resource.starts_with("arn:aws:lambda:") {
                    TaskEvents::Lambda
                } else {
                    TaskEvents::Task
                },
                wait_for_token: resource.ends_with(".waitForTaskToken"),
            })
        }
        model::Kind::Choice(choice) => {
            let Field::Ok(choices) = &choice.choices else {
                return Err(error(at, "the field 'Choices' is required"));
            };
            let rules = choices
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let at = format!("{at}/Choices/{i}");
                    let rule = match rule {
                        Field::Ok(rule) if rule.next.is_present() => rule,
                        _ => return Err(error(&at, "a choice rule needs 'Next'")),
                    };
                    // AWS (Choice workflow state): a matched Choice Rule's `Assign` sets
                    // variables, in JSONPath as in JSONata (where `Condition` holds it).
                    let (compiled, assign) = if ctx.jsonata {
                        (compile_condition(rule, &at)?, None)
                    } else {
                        let rule_ctx = Ctx {
                            at: &at,
                            jsonata: false,
                        };
                        (
                            compile_rule_object(rule, &at, 0)?,
                            rule_ctx.template("Assign", rule.assign)?,
                        )
                    };
                    Ok((
                        compiled,
                        target(ids, &rule.next, &format!("{at}/Next"))?,
                        assign,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            let default = match &choice.default {
                Field::Absent => None,
                default => Some(target(ids, default, &ctx.here("Default"))?),
            };
            Kind::Choice { rules, default }
        }
        model::Kind::Wait(wait) => Kind::Wait(compile_wait(wait, ctx)?),
        model::Kind::Succeed => Kind::Succeed,
        model::Kind::Fail(fail) => Kind::Fail {
            error: ctx.text("Error", fail.error, &fail.error_path)?,
            cause: ctx.text("Cause", fail.cause, &fail.cause_path)?,
        },
        model::Kind::Parallel(parallel) => {
            let Field::Ok(branches) = &parallel.branches else {
                return Err(error(at, "the field 'Branches' is required"));
            };
            Kind::Parallel {
                branches: branches
                    .iter()
                    .enumerate()
                    .map(|(i, b)| compile_sub(b, &format!("{at}/Branches/{i}"), machine_language))
                    .collect::<Result<_>>()?,
            }
        }
        model::Kind::Map(map) => {
            Kind::Map(Box::new(compile_map(map, state, ctx, machine_language)?))
        }
    })
}

fn compile_wait(wait: &model::Wait, ctx: &Ctx<'_>) -> Result<Wait> {
    Ok(if let Some(expr) = ctx.expr("Seconds", wait.seconds)? {
        Wait::SecondsExpr(expr)
    } else if let Some(expr) = ctx.expr("Timestamp", wait.timestamp)? {
        Wait::TimestampExpr(expr)
    } else if let Some(seconds) = wait.seconds {
        Wait::Seconds(seconds.clone())
    } else if let Some(path) = ctx.path("SecondsPath", &wait.seconds_path)? {
        Wait::SecondsPath(path)
    } else if let Some(stamp) = wait.timestamp {
        match stamp {
            Value::String(stamp) => Wait::Timestamp(stamp.clone()),
            _ => {
                return Err(error(
                    &ctx.here("Timestamp"),
                    "the field 'Timestamp' must be a string",
                ))
            }
        }
    } else if let Some(path) = ctx.path("TimestampPath", &wait.timestamp_path)? {
        Wait::TimestampPath(path)
    } else {
        return Err(error(
            ctx.at,
            "a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath",
        ));
    })
}

fn compile_retrier(retrier: &Field<model::Retrier>, at: &str) -> Result<Retrier> {
    let errors_at = format!("{at}/ErrorEquals");
    let Field::Ok(retrier) = retrier else {
        // Nothing of it can be read, and ErrorEquals is what a Retrier cannot do without.
        return Err(error(
            &errors_at,
            "'ErrorEquals' is required and must be an array",
        ));
    };
    let max_attempts = number(&retrier.max_attempts, 3.0, at, "MaxAttempts")?;
    Ok(Retrier {
        errors: error_names(&retrier.error_equals, &errors_at)?,
        interval_seconds: number(&retrier.interval_seconds, 1.0, at, "IntervalSeconds")?,
        max_attempts: max_attempts.max(0.0) as u64,
        backoff_rate: number(&retrier.backoff_rate, 2.0, at, "BackoffRate")?,
        max_delay_seconds: retrier.max_delay_seconds.ok().and_then(|n| n.as_f64()),
        jitter: match retrier.jitter_strategy {
            Field::Ok(Jitter::Full) => Jitter::Full,
            _ => Jitter::None,
        },
    })
}

fn compile_catcher(
    catcher: &Field<model::Catcher>,
    at: &str,
    ids: &HashMap<&str, StateId>,
    jsonata: bool,
) -> Result<Catcher> {
    let Field::Ok(catcher) = catcher else {
        return Err(error(at, "a catcher must be an object"));
    };
    let ctx = Ctx { at, jsonata };
    if !catcher.next.is_present() {
        return Err(error(at, "a catcher needs 'Next'"));
    }
    Ok(Catcher {
        errors: error_names(&catcher.error_equals, &ctx.here("ErrorEquals"))?,
        result_path: ctx.result_path("ResultPath", &catcher.result_path)?,
        assign: if jsonata {
            None
        } else {
            ctx.template("Assign", catcher.assign)?
        },
        next: target(ids, &catcher.next, &ctx.here("Next"))?,
        jsonata: if jsonata {
            Some(JsonataFields {
                arguments: None,
                output: ctx.tree("Output", catcher.output)?,
                assign: ctx.tree("Assign", catcher.assign)?,
            })
        } else {
            None
        },
    })
}

fn compile_map(
    map: &model::MapState,
    state: &model::State,
    ctx: &Ctx<'_>,
    machine_language: QueryLanguage,
) -> Result<MapState> {
    let at = ctx.at;
    let (processor, processor_at) = match (&map.item_processor, &map.iterator) {
        (Some(p), _) => (p, ctx.here("ItemProcessor")),
        (None, Some(i)) => (i, ctx.here("Iterator")),
        (None, None) => return Err(error(at, "a Map state needs 'ItemProcessor'")),
    };
    let mode = match processor {
        Field::Ok(machine) => match &machine.processor_config {
            Field::Ok(config) => config.mode.ok().copied().unwrap_or(MapMode::Inline),
            _ => MapMode::Inline,
        },
        _ => MapMode::Inline,
    };
    let batcher = match &map.item_batcher {
        Field::Absent => None,
        Field::Ok(batcher) => {
            let at = ctx.here("ItemBatcher");
            let inner = Ctx {
                at: &at,
                jsonata: ctx.jsonata,
            };
            Some(ItemBatcher {
                max_items: inner.count(
                    "MaxItemsPerBatch",
                    batcher.max_items_per_batch,
                    &batcher.max_items_per_batch_path,
                )?,
                max_input_bytes: inner.count(
                    "MaxInputBytesPerBatch",
                    batcher.max_input_bytes_per_batch,
                    &batcher.max_input_bytes_per_batch_path,
                )?,
                batch_input: inner.template("BatchInput", batcher.batch_input)?,
            })
        }
        Field::Wrong(_) => {
            return Err(error(
                &ctx.here("ItemBatcher"),
                "'ItemBatcher' must be an object",
            ))
        }
    };
    if map.item_selector.is_some() && state.parameters.is_some() {
        return Err(error(
            at,
            "'ItemSelector' and 'Parameters' are mutually exclusive",
        ));
    }
    let item_selector = if ctx.jsonata {
        None
    } else {
        match ctx.template("ItemSelector", map.item_selector)? {
            Some(t) => Some(t),
            None => ctx.template("Parameters", state.parameters)?,
        }
    };
    let (items, jsonata_item_selector) = if ctx.jsonata {
        (
            ctx.tree("Items", map.items)?,
            ctx.tree("ItemSelector", map.item_selector)?,
        )
    } else {
        (None, None)
    };
    Ok(MapState {
        items_path: match ctx.selection("ItemsPath", &map.items_path)? {
            Selection::Path(p) => Some(p),
            _ => None,
        },
        item_selector,
        items,
        jsonata_item_selector,
        processor: compile_sub(processor, &processor_at, machine_language)?,
        max_concurrency: ctx.count(
            "MaxConcurrency",
            map.max_concurrency,
            &map.max_concurrency_path,
        )?,
        mode,
        tolerated_failure_count: ctx.count(
            "ToleratedFailureCount",
            map.tolerated_failure_count,
            &map.tolerated_failure_count_path,
        )?,
        tolerated_failure_percentage: ctx.count(
            "ToleratedFailurePercentage",
            map.tolerated_failure_percentage,
            &map.tolerated_failure_percentage_path,
        )?,
        batcher,
    })
}

/// A JSONata Choice Rule: `Condition` (an expression or a boolean), with its own `Output`
/// and `Assign`.
fn compile_condition(rule: &model::ChoiceRule, at: &str) -> Result<Rule> {
    let ctx = Ctx { at, jsonata: true };
    let test = match &rule.condition {
        Some(Value::Bool(b)) => Test::Literal(*b),
        Some(condition) => {
            Test::Expr(ctx.expr("Condition", Some(condition))?.ok_or_else(|| {
                error(
                    &ctx.here("Condition"),
                    "'Condition' must be a JSONata expression or a boolean",
                )
            })?)
        }
        None => return Err(error(at, "a JSONata choice rule needs 'Condition'")),
    };
    Ok(Rule::Condition(Box::new(Condition {
        test,
        output: ctx.tree("Output", rule.output)?,
        assign: ctx.tree("Assign", rule.assign)?,
    })))
}

/// Deepest nesting of And/Or/Not accepted; past it the definition is rejected, not run.
const MAX_RULE_DEPTH: usize = 64;

fn compile_rule(rule: &Field<model::ChoiceRule>, at: &str, depth: usize) -> Result<Rule> {
    if depth > MAX_RULE_DEPTH {
        return Err(error(at, "choice rules are nested too deeply"));
    }
    match rule {
        Field::Ok(rule) => compile_rule_object(rule, at, depth),
        _ => Err(error(at, "a choice rule must be an object")),
    }
}

/// A JSONPath Choice Rule that is an object, `depth` levels into And / Or / Not.
fn compile_rule_object(rule: &model::ChoiceRule, at: &str, depth: usize) -> Result<Rule> {
    let nested = |key: &str, rules: &Field<Vec<Field<model::ChoiceRule>>>| -> Result<Vec<Rule>> {
        let Field::Ok(rules) = rules else {
            return Err(error(
                &format!("{at}/{key}"),
                format!("'{key}' must be an array"),
            ));
        };
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| compile_rule(r, &format!("{at}/{key}/{i}"), depth + 1))
            .collect()
    };
    if rule.and.is_present() {
        return Ok(Rule::And(nested("And", &rule.and)?));
    }
    if rule.or.is_present() {
        return Ok(Rule::Or(nested("Or", &rule.or)?));
    }
    if let Some(inner) = &rule.not {
        return Ok(Rule::Not(Box::new(compile_rule(
            inner,
            &format!("{at}/Not"),
            depth + 1,
        )?)));
    }
    let Field::Ok(variable) = &rule.variable else {
        return Err(error(at, "a choice rule needs 'Variable'"));
    };
    let variable =
        Path::parse(variable).map_err(|e| error(&format!("{at}/Variable"), e.to_string()))?;
    let Some((key, operand)) = rule.comparisons.first() else {
        return Err(error(at, "a choice rule needs a comparison operator"));
    };
    let (name, is_path) = match key.strip_suffix("Path") {
        // `IsPresent` etc. never end in Path; `*Path` forms take a path operand.
        Some(base) if Operator::parse(base).is_some() => (base, true),
        _ => (*key, false),
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
        Operand::Path(Path::parse(text).map_err(|e| error(&format!("{at}/{key}"), e.to_string()))?)
    } else {
        operator
            .literal(operand)
            .map_err(|message| error(&format!("{at}/{key}"), message))?
    };
    Ok(Rule::Compare {
        variable,
        operator,
        operand,
    })
}

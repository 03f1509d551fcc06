//! What a state's paths and expressions can read: workflow variables (`Vars`, scoped per
//! Map item and Parallel branch), the context object, JSONata and intrinsic hosts, `Assign`.

use super::compile::{State, Text};
use super::run::{Run, StateContext};
use super::size::fits;
use super::template::{self, Template};
use crate::error::{ErrorName, StatesError};
use crate::history::HistoryEventType as Event;
use crate::intrinsics::IntrinsicEnv;
use crate::jsonata::{self, Session};
use crate::path::{Path, Root};
use crate::timestamp;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Workflow variables: this scope's own, over a read-only snapshot of the enclosing scope
/// (Map and Parallel branches read outer variables but their assignments stay inside).
#[derive(Debug, Clone, Default)]
pub(crate) struct Vars {
    pub(crate) outer: Option<Arc<Vars>>,
    pub(crate) own: HashMap<String, Value>,
}

impl Vars {
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.own
            .get(name)
            .or_else(|| self.outer.as_ref().and_then(|o| o.get(name)))
    }

    pub(crate) fn inner(outer: &Arc<Vars>) -> Vars {
        Vars {
            outer: Some(outer.clone()),
            own: HashMap::new(),
        }
    }
}

/// Everything a path may read while one state evaluates.
pub(crate) struct Scope<'s> {
    pub(crate) run: &'s Run<'s>,
    pub(crate) input: &'s Value,
    pub(crate) vars: &'s Vars,
    pub(crate) state: &'s StateContext<'s>,
}

impl Scope<'_> {
    /// The context object (`$$`).
    pub(crate) fn context_object(&self) -> Value {
        // TestState's `context` is the whole context object, as the caller gave it.
        if let Some(context) = self.run.test.and_then(|t| t.context.as_ref()) {
            return context.clone();
        }
        let mut context = self.context_object_without_input();
        context["Execution"]["Input"] = self.run.execution_input.clone();
        context
    }

    /// The context object less `Execution.Input`, for paths that cannot reach it.
    pub(crate) fn context_object_without_input(&self) -> Value {
        if let Some(context) = self.run.test.and_then(|t| t.context.as_ref()) {
            return context.clone();
        }
        let state = self.state;
        let info = self.run.info;
        let mut context = json!({
            "Execution": {
                "Id": info.execution_arn,
                "Name": info.name,
                "RoleArn": info.role_arn,
                "StartTime": timestamp::format(self.run.start_ms),
            },
            "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
            "State": {
                "Name": state.name,
                "EnteredTime": timestamp::format(
                    state
                        .entered_time_ms
                        .unwrap_or_else(|| self.run.services.clock.now_ms())
                ),
            },
        });
        if let Some(redrives) = info.redrive_count {
            context["Execution"]["RedriveCount"] = redrives.into();
        }
        // Only states that can retry carry a RetryCount (conformance: test_output_path[$$]).
        if state.retriable {
            context["State"]["RetryCount"] = state.retry_count.into();
        }
        if let Some(token) = state.task_token {
            context["Task"] = json!({"Token": token});
        }
        if let Some((index, value)) = state.map_item {
            context["Map"] = json!({"Item": {"Index": index, "Value": value}});
        }
        if let Some(test) = self.run.test {
            test.default_context(&mut context);
        }
        context
    }

    /// Selects with a path from the input, the context object or a variable. Inlined for
    /// the common `$…` path; the others build or look up their root first.
    #[inline]
    pub(crate) fn select(&self, path: &Path) -> Result<Cow<'_, Value>, Selected> {
        match path.root() {
            Root::Input => path.select(self.input).map_err(Selected::Missing),
            _ => self.select_elsewhere(path),
        }
    }

    /// `select` for paths from the context object or a variable.
    pub(crate) fn select_elsewhere(&self, path: &Path) -> Result<Cow<'_, Value>, Selected> {
        match path.root() {
            Root::Input => path.select(self.input).map_err(Selected::Missing),
            Root::Context => {
                // Copying the execution input into every `$$` lookup made a Map's
                // ItemSelector quadratic; include it only for paths that can reach it.
                let text = path.as_str();
                let context = if text == "$$" || text.contains("Execution") {
                    self.context_object()
                } else {
                    self.context_object_without_input()
                };
                path.select(&context)
                    .map(|v| Cow::Owned(v.into_owned()))
                    .map_err(Selected::Missing)
            }
            Root::Variable(name) => match self.vars.get(name) {
                Some(value) => path.select(value).map_err(Selected::Missing),
                None => Err(Selected::Undefined(name.clone())),
            },
        }
    }

    pub(crate) fn runtime(&self, detail: impl std::fmt::Display) -> StatesError {
        self.run.runtime(self.state, detail)
    }

    /// A path that must select something, with AWS's message when it does not.
    pub(crate) fn require(&self, path: &Path, field: &str) -> Result<Cow<'_, Value>, StatesError> {
        self.select(path).map_err(|e| match e {
            Selected::Missing(_) => self.runtime(format!(
                "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
                path.as_str(),
                field,
                self.input
            )),
            Selected::Undefined(name) => self.undefined(&name),
        })
    }

    /// Runs JSONata evaluations for this state; `result` and `error_output` are
    /// `$states.result` and `$states.errorOutput`. Synchronous: nothing of the evaluator's
    /// outlives the call.
    pub(crate) fn jsonata<R>(
        &self,
        result: Option<&Value>,
        error_output: Option<&Value>,
        f: impl FnOnce(&Session<'_>) -> R,
    ) -> R {
        let host = JsonataHost {
            scope: self,
            result,
            error_output,
        };
        f(&Session::new(&host))
    }

    /// `States.QueryEvaluationError` for this state, recorded as an `EvaluationFailed` event;
    /// `field` is where it failed.
    pub(crate) fn evaluation_failed(&self, field: &str, detail: String) -> StatesError {
        let (run, state) = (self.run, self.state);
        let error = StatesError::new(
            ErrorName::QueryEvaluationError,
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {detail}",
                state.name, state.entered_event_id
            ),
        );
        run.event(state.evaluation_after, Event::EvaluationFailed, || {
            json!({
                "error": error.name.as_str(),
                "cause": error.cause,
                "location": field,
                "state": state.name,
            })
        });
        error
    }

    pub(crate) fn undefined(&self, name: &str) -> StatesError {
        self.runtime(format!("The variable '{name}' is not defined."))
    }

    pub(crate) fn build(&self, template: &Template) -> Result<Value, StatesError> {
        template::build(template, &mut |leaf| match leaf {
            Template::Path { field, path } => {
                let found = match path.root() {
                    Root::Input => path.lookup(self.input),
                    _ => None,
                };
                match found {
                    Some(value) => Ok(value.clone()),
                    None => self.require(path, field).map(Cow::into_owned),
                }
            }
            Template::Call(call) => {
                let mut env = CallEnv { scope: self };
                call.eval(&mut env)
            }
            _ => unreachable!("build only hands dynamic leaves to the resolver"),
        })
    }

    pub(crate) fn text(&self, text: &Text, field: &str) -> Result<String, StatesError> {
        let value = match text {
            Text::Literal(s) => return Ok(s.clone()),
            Text::Path(path) => self.select(path).map(Cow::into_owned).map_err(|e| match e {
                Selected::Missing(_) => self.runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                    path.as_str(),
                    self.input
                )),
                Selected::Undefined(name) => self.undefined(&name),
            })?,
            Text::Call(call) => call.eval(&mut CallEnv { scope: self })?,
            Text::Expr(expr) => {
                let field = field.strip_suffix("Path").unwrap_or(field);
                return self.jsonata(None, None, |s| {
                    let value = s.value(expr, field)?;
                    match value {
                        Value::String(text) => Ok(text),
                        other => Err(s.unexpected(expr, field, "string", &other)),
                    }
                });
            }
        };
        match value {
            Value::String(s) => Ok(s),
            other => Err(self.runtime(format!(
                "The value for the field '{field}' must be a STRING, but was {other}"
            ))),
        }
    }
}

/// What JSONata reads while one state evaluates.
pub(crate) struct JsonataHost<'s> {
    pub(crate) scope: &'s Scope<'s>,
    pub(crate) result: Option<&'s Value>,
    pub(crate) error_output: Option<&'s Value>,
}

impl jsonata::Host for JsonataHost<'_> {
    fn input(&self) -> &Value {
        self.scope.input
    }

    fn result(&self) -> Option<&Value> {
        self.result
    }

    fn error_output(&self) -> Option<&Value> {
        self.error_output
    }

    fn context(&self) -> Value {
        self.scope.context_object()
    }

    fn variable(&self, name: &str) -> Option<&Value> {
        self.scope.vars.get(name)
    }

    fn random_u64(&self) -> u64 {
        self.scope.run.services.rng.next_u64()
    }

    fn fail(&self, field: &str, detail: String) -> StatesError {
        self.scope.evaluation_failed(field, detail)
    }
}

pub(crate) enum Selected {
    Missing(crate::path::Missing),
    Undefined(String),
}

pub(crate) struct CallEnv<'s> {
    pub(crate) scope: &'s Scope<'s>,
}

impl IntrinsicEnv for CallEnv<'_> {
    fn resolve(&self, path: &Path) -> Result<Value, StatesError> {
        self.scope
            .select(path)
            .map(Cow::into_owned)
            .map_err(|e| match e {
                Selected::Missing(_) => self.scope.runtime(format!(
                    "The JSONPath '{}' could not be found in the input '{}'",
                    path.as_str(),
                    self.scope.input
                )),
                Selected::Undefined(name) => self.scope.undefined(&name),
            })
    }

    fn random_u64(&mut self) -> u64 {
        self.scope.run.services.rng.next_u64()
    }

    fn lookup(&self, path: &Path) -> Option<&Value> {
        match path.root() {
            Root::Input => path.lookup(self.scope.input),
            _ => None,
        }
    }
}

/// AWS's limit on the variables one state assigns, in bytes (256 KiB).
pub(crate) const ASSIGN_LIMIT_BYTES: usize = 262_144;

pub(crate) fn apply_assign(vars: &mut Vars, values: Value) {
    if let Value::Object(map) = values {
        for (name, value) in map {
            vars.own.insert(name, value);
        }
    }
}

impl<'a> Run<'a> {
    /// Sets the variables of one `Assign`, within AWS's size limit for one state.
    pub(crate) fn apply_assign(
        &self,
        vars: &mut Vars,
        values: Value,
        context: &StateContext<'_>,
    ) -> Result<(), StatesError> {
        if !fits(&values, ASSIGN_LIMIT_BYTES) {
            return Err(self.runtime(
                context,
                "The assigned variables exceed the maximum size of 262144 bytes for one state.",
            ));
        }
        apply_assign(vars, values);
        Ok(())
    }

    /// JSONPath `Assign`: every value is computed from the variables as they were before
    /// this state, then all are set at once.
    pub(crate) fn assign(
        &self,
        state: &State,
        input: &Value,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<(), StatesError> {
        self.assign_with(state, None, input, vars, context)
    }

    /// `assign`, and then a matched Choice Rule's own `Assign`: both are computed from the
    /// variables as they were before this state, the rule's set last.
    pub(crate) fn assign_with(
        &self,
        state: &State,
        rule: Option<&Template>,
        input: &Value,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<(), StatesError> {
        if state.assign.is_none() && rule.is_none() {
            return Ok(());
        }
        let scope = Scope {
            run: self,
            input,
            vars,
            state: context,
        };
        let values = [state.assign.as_ref(), rule]
            .into_iter()
            .flatten()
            .map(|t| scope.build(t))
            .collect::<Result<Vec<_>, _>>()?;
        for values in values {
            self.apply_assign(vars, values, context)?;
        }
        Ok(())
    }
}

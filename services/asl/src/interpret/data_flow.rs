//! One state's data flow: InputPath → Parameters/Arguments → its kind's work →
//! ResultSelector → ResultPath → OutputPath (or JSONata's Output), with TestState's inspection.

use super::choice::{Condition, Rule};
use super::compile::{Count, JsonataFields, Kind, ResultPath, Selection, State, Transition};
use super::run::{Run, StateContext, Step};
use super::scope::{Scope, Selected, Vars};
use super::size::fits;
use super::template::Template;
use super::PAYLOAD_LIMIT_BYTES;
use crate::error::{ErrorName, StatesError};
use crate::jsonata::Tree;
use crate::path::{Path, Root};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A state's input after InputPath and Parameters/Arguments.
pub(crate) struct Prepared<'r> {
    pub(crate) selected: Cow<'r, Value>,
    pub(crate) parameters: Option<Value>,
}

impl Prepared<'_> {
    /// What the state's kind works on: the parameters, else the selected input.
    pub(crate) fn effective(&self) -> &Value {
        self.parameters.as_ref().unwrap_or(&self.selected)
    }
}

/// What a state's kind did.
pub(crate) struct Worked<'s> {
    /// What it produced; `None` for kinds that pass their effective input on.
    pub(crate) result: Option<Value>,
    pub(crate) next: Transition,
    /// The JSONata Choice Rule that matched: its Output and Assign apply.
    pub(crate) chosen_rule: Option<&'s Condition>,
    /// The `Assign` of the JSONPath Choice Rule that matched.
    pub(crate) chosen_assign: Option<&'s Template>,
}

impl Worked<'_> {
    pub(crate) fn result(result: Value, next: Transition) -> Self {
        Worked {
            result: Some(result),
            next,
            chosen_rule: None,
            chosen_assign: None,
        }
    }

    pub(crate) fn passed(next: Transition) -> Self {
        Worked {
            result: None,
            next,
            chosen_rule: None,
            chosen_assign: None,
        }
    }
}

/// The most seconds a Wait may last (AWS, Wait workflow state: "an integer value from 0 to
/// 99999999").
pub(crate) const MAX_SECONDS: u64 = 99_999_999;

/// An integer as the `…Path` fields accept it: a JSON integer or a string holding one.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number as the `…Path` fields accept it: a JSON number or a string holding one.
pub(crate) fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value as AWS quotes it in messages: strings without their JSON quotes.
pub(crate) fn display_raw(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<'a> Run<'a> {
    /// Combines the raw input and the result; the input is copied only when it is kept.
    pub(crate) fn apply_result_path(
        &self,
        result_path: &ResultPath,
        raw: Cow<'_, Value>,
        result: Value,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        match result_path {
            ResultPath::Replace => Ok(result),
            ResultPath::Discard => Ok(raw.into_owned()),
            ResultPath::At(path) => {
                let mut target = raw.into_owned();
                self.write_result(path, &mut target, result, context)?;
                Ok(target)
            }
        }
    }

    /// Writes a result at a `ResultPath` inside `target`, which a failure leaves as it was.
    pub(crate) fn write_result(
        &self,
        path: &Path,
        target: &mut Value,
        result: Value,
        context: &StateContext<'_>,
    ) -> Result<(), StatesError> {
        path.assign(target, result).map_err(|missing| {
            self.runtime(
                context,
                format!("Invalid path '{}' : {}", path.as_str(), missing.message()),
            )
        })
    }

    /// The work and data flow of a state that `steps_in_place`, on the value the branch
    /// holds: the state's input, and after it its output. The same steps as `attempt_now`
    /// less those such a state does not have; the value is copied only where a Pass keeps
    /// its input and adds to it (`ResultPath` at a path), and a borrowed value (the
    /// execution's input, lent by its caller) where it is written into.
    pub(crate) fn step_in_place(
        &self,
        state: &State,
        value: &mut Cow<'_, Value>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Transition, StatesError> {
        match &state.kind {
            Kind::Pass {
                result,
                result_fits,
            } => {
                let result = match (result, &state.parameters) {
                    (Some(result), _) => result.clone(),
                    (None, Some(parameters)) => Scope {
                        run: self,
                        input: value,
                        vars,
                        state: context,
                    }
                    .build(parameters)?,
                    // The input is the result: checked as a result is, and copied only
                    // when the output keeps both.
                    (None, None) => {
                        self.check_result_size(state, value)?;
                        match &state.result_path {
                            ResultPath::At(path) => {
                                let copy = Value::clone(value);
                                self.write_result(path, value.to_mut(), copy, context)?;
                            }
                            ResultPath::Replace | ResultPath::Discard => {}
                        }
                        return Ok(state.transition);
                    }
                };
                if !*result_fits {
                    self.check_result_size(state, &result)?;
                }
                match &state.result_path {
                    ResultPath::Replace => *value = Cow::Owned(result),
                    ResultPath::Discard => {}
                    ResultPath::At(path) => {
                        self.write_result(path, value.to_mut(), result, context)?
                    }
                }
                Ok(state.transition)
            }
            Kind::Choice { rules, default } => {
                let scope = Scope {
                    run: self,
                    input: value,
                    vars,
                    state: context,
                };
                for (rule, next, assign) in rules {
                    if self.matches(rule, &scope)? {
                        if assign.is_some() {
                            self.assign_with(state, assign.as_ref(), value, vars, context)?;
                        }
                        return Ok(Transition::Next(*next));
                    }
                }
                match default {
                    Some(next) => Ok(Transition::Next(*next)),
                    None => Err(StatesError::bare(ErrorName::NoChoiceMatched)),
                }
            }
            Kind::Succeed => Ok(Transition::End),
            _ => unreachable!("only Pass, Choice and Succeed states step in place"),
        }
    }

    /// InputPath or OutputPath. Inlined for the common `$`, which selects the value itself.
    #[inline]
    pub(crate) fn select_input<'v>(
        &self,
        selection: &Selection,
        value: &'v Value,
        context: &StateContext<'_>,
        vars: &Vars,
    ) -> Result<Cow<'v, Value>, StatesError> {
        match selection {
            Selection::Whole => Ok(Cow::Borrowed(value)),
            Selection::Discard => Ok(Cow::Owned(Value::Object(Map::new()))),
            Selection::Path(path) => self.select_path(path, value, context, vars),
        }
    }

    pub(crate) fn select_path<'v>(
        &self,
        path: &Path,
        value: &'v Value,
        context: &StateContext<'_>,
        vars: &Vars,
    ) -> Result<Cow<'v, Value>, StatesError> {
        let scope = Scope {
            run: self,
            input: value,
            vars,
            state: context,
        };
        let invalid = |detail: String| {
            self.runtime(
                context,
                format!("Invalid path '{}' : {detail}", path.as_str()),
            )
        };
        match path.root() {
            Root::Input => path.select(value).map_err(|m| invalid(m.message())),
            _ => scope
                .select(path)
                .map(|v| Cow::Owned(v.into_owned()))
                .map_err(|e| match e {
                    Selected::Missing(m) => invalid(m.message()),
                    Selected::Undefined(name) => scope.undefined(&name),
                }),
        }
    }

    /// One try of a state: its data flow and its work.
    /// `raw` is owned when no Retry or Catch needs it afterwards, so it can become the
    /// output without a copy.
    pub(crate) async fn attempt(
        &self,
        state: &State,
        raw: Cow<'_, Value>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Step, StatesError> {
        // A callback task's token must exist before Parameters can read `$$.Task.Token`.
        let token = match &state.kind {
            Kind::Task(task) if task.wait_for_token => Some(self.task_token()),
            _ => None,
        };
        let context = &StateContext {
            task_token: token.as_deref(),
            ..*context
        };
        let prepared = self.prepare(state, &raw, vars, context)?;
        let effective = prepared.effective();
        // The Task, Parallel and Map futures are boxed: inline, every waiting state's future
        // (a Wait's too) was the size of the largest of them, held for the whole wait.
        let worked = match &state.kind {
            Kind::Task(task) => Worked::result(
                Box::pin(self.task(task, state, &prepared.selected, effective, vars, context))
                    .await?,
                state.transition,
            ),
            Kind::Wait(wait) => {
                let scope = Scope {
                    run: self,
                    input: effective,
                    vars,
                    state: context,
                };
                let duration = self.wait_duration(wait, &scope)?;
                // TestState reports a Wait's outcome without waiting it out: the answer is
                // the same, and a test must not take the wait's time.
                if self.tested(state).is_none() {
                    self.services.clock.sleep(duration).await;
                }
                Worked::passed(state.transition)
            }
            // TestState: a mock stands in for the branches (the gateway checked its size).
            Kind::Parallel { .. } if self.tested(state).is_some_and(|t| t.mock.is_some()) => {
                let mocked = self.tested(state).and_then(|t| t.mock.clone());
                Worked::result(mocked.unwrap_or(Ok(Value::Null))?, state.transition)
            }
            Kind::Parallel { branches } => Worked::result(
                Box::pin(self.parallel(branches, effective, vars, context)).await?,
                state.transition,
            ),
            Kind::Map(map) => Worked::result(
                Box::pin(self.map(map, state, effective, vars, context)).await?,
                state.transition,
            ),
            Kind::Pass { .. } | Kind::Choice { .. } | Kind::Succeed | Kind::Fail { .. } => {
                self.work_now(state, effective, vars, context)?
            }
        };
        let settled = self.settle(state, &prepared, &worked, vars, context)?;
        // Ends its borrow of the raw input, which `finish` may then move.
        drop(prepared);
        self.finish(state, raw, worked, settled, vars, context)
    }

    /// Whether a state's work awaits nothing (Pass, Choice, Succeed, Fail): such a state
    /// runs through `attempt_now` without building the `attempt` future, whose size is that
    /// of the largest state kind and whose moves dominated a Pass state's cost.
    pub(crate) fn runs_now(state: &State) -> bool {
        matches!(
            state.kind,
            Kind::Pass { .. } | Kind::Choice { .. } | Kind::Succeed | Kind::Fail { .. }
        ) && state.retry.is_empty()
            && state.catch.is_empty()
    }

    /// `attempt` for a state that `runs_now`.
    pub(crate) fn attempt_now(
        &self,
        state: &State,
        raw: Cow<'_, Value>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Step, StatesError> {
        // `prepared` borrows the raw input, which `finish` may move: it ends with this
        // block, dropped in place (`drop(prepared)` copied it first).
        let (worked, settled) = {
            let mut prepared = self.prepare(state, &raw, vars, context)?;
            let worked = match (&state.kind, prepared.parameters.take()) {
                // A Pass without Result passes its parameters on: moved, not copied.
                (Kind::Pass { result: None, .. }, Some(parameters)) => {
                    Worked::result(parameters, state.transition)
                }
                (_, parameters) => {
                    prepared.parameters = parameters;
                    self.work_now(state, prepared.effective(), vars, context)?
                }
            };
            let settled = self.settle(state, &prepared, &worked, vars, context)?;
            (worked, settled)
        };
        self.finish(state, raw, worked, settled, vars, context)
    }

    /// InputPath, then Parameters (JSONPath) or Arguments (JSONata).
    #[inline]
    pub(crate) fn prepare<'r>(
        &self,
        state: &State,
        raw: &'r Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Prepared<'r>, StatesError> {
        let selected = self.select_input(&state.input_path, raw, context, vars)?;
        self.inspect(state, "afterInputPath", &selected);
        let jsonata = state.jsonata.as_deref();
        let scope = Scope {
            run: self,
            input: &selected,
            vars,
            state: context,
        };
        let parameters = match (
            &state.parameters,
            jsonata.and_then(|a| a.arguments.as_ref()),
        ) {
            (Some(parameters), _) => Some(scope.build(parameters)?),
            (None, Some(arguments)) => Some(scope.jsonata(None, None, |s| s.build(arguments))?),
            (None, None) => None,
        };
        if let Some(parameters) = &parameters {
            self.inspect(
                state,
                if jsonata.is_some() {
                    "afterArguments"
                } else {
                    "afterParameters"
                },
                parameters,
            );
        }
        Ok(Prepared {
            selected,
            parameters,
        })
    }

    /// The work of the state kinds that await nothing.
    #[inline]
    pub(crate) fn work_now<'s>(
        &self,
        state: &'s State,
        effective: &Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Worked<'s>, StatesError> {
        let scope = Scope {
            run: self,
            input: effective,
            vars,
            state: context,
        };
        match &state.kind {
            Kind::Pass { result, .. } => {
                let result = match result {
                    Some(result) => result.clone(),
                    None => effective.clone(),
                };
                Ok(Worked::result(result, state.transition))
            }
            Kind::Choice { rules, default } => {
                for (rule, next, assign) in rules {
                    if self.matches(rule, &scope)? {
                        let chosen_rule = match rule {
                            Rule::Condition(condition) => Some(&**condition),
                            _ => None,
                        };
                        return Ok(Worked {
                            result: None,
                            next: Transition::Next(*next),
                            chosen_rule,
                            chosen_assign: assign.as_ref(),
                        });
                    }
                }
                match default {
                    Some(next) => Ok(Worked::passed(Transition::Next(*next))),
                    None => Err(StatesError::bare(ErrorName::NoChoiceMatched)),
                }
            }
            Kind::Succeed => Ok(Worked::passed(Transition::End)),
            Kind::Fail { error, cause } => {
                let error = error
                    .as_ref()
                    .map(|e| scope.text(e, "ErrorPath"))
                    .transpose()?;
                let cause = cause
                    .as_ref()
                    .map(|c| scope.text(c, "CausePath"))
                    .transpose()?;
                Err(StatesError {
                    name: ErrorName::parse(error.as_deref().unwrap_or("")),
                    cause,
                })
            }
            Kind::Task(_) | Kind::Wait(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                unreachable!("awaiting state kinds are worked in `attempt`")
            }
        }
    }

    /// What still needs the effective input once the work is done: for a JSONPath state
    /// without a result (Choice, Wait, Succeed), Assign and OutputPath apply to it. `None`:
    /// the output is the raw input (or comes from the result, in `finish`). Borrowed, not
    /// consumed: moving `Prepared` (two values) in was a copy per state.
    #[inline]
    pub(crate) fn settle(
        &self,
        state: &State,
        prepared: &Prepared<'_>,
        worked: &Worked<'_>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Option<Value>, StatesError> {
        if state.jsonata.is_some() || worked.result.is_some() {
            return Ok(None);
        }
        let effective = prepared.effective();
        self.assign_with(state, worked.chosen_assign, effective, vars, context)?;
        let passes_through = prepared.parameters.is_none()
            && matches!(state.input_path, Selection::Whole)
            && matches!(state.output_path, Selection::Whole);
        if passes_through {
            return Ok(None);
        }
        Ok(Some(
            self.select_input(&state.output_path, effective, context, vars)?
                .into_owned(),
        ))
    }

    /// ResultSelector, Assign, ResultPath and OutputPath (JSONPath) or Output and Assign
    /// (JSONata): the state's output and where it goes.
    #[inline]
    pub(crate) fn finish(
        &self,
        state: &State,
        raw: Cow<'_, Value>,
        worked: Worked<'_>,
        settled: Option<Value>,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Step, StatesError> {
        let Worked {
            result,
            next,
            chosen_rule,
            ..
        } = worked;
        let step = |output| match next {
            Transition::Next(id) => Step::Next(id, output),
            Transition::End => Step::End(output),
        };
        if let Some(jsonata) = state.jsonata.as_deref() {
            // JSONata: Output (default: the result, or the input) and Assign, both on the
            // variables as they were before this state.
            let states_result = match state.kind {
                Kind::Task(_) | Kind::Map(_) | Kind::Parallel { .. } => result.as_ref(),
                _ => None,
            };
            if let (Some(result), Kind::Task(_)) = (&result, &state.kind) {
                self.check_result_size(state, result)?;
            }
            let output = self.finish_jsonata(
                jsonata,
                chosen_rule,
                &raw,
                states_result,
                result.as_ref().unwrap_or(&raw),
                vars,
                context,
            )?;
            return Ok(step(output));
        }
        let Some(result) = result else {
            // Choice, Wait, Succeed: `settle` assigned and applied OutputPath, unless the
            // effective input is the raw input.
            return Ok(step(settled.unwrap_or_else(|| raw.into_owned())));
        };
        let checked = match &state.kind {
            Kind::Pass { result_fits, .. } => *result_fits,
            Kind::Task(_) => false,
            _ => true,
        };
        if !checked {
            self.check_result_size(state, &result)?;
        }
        self.inspect(state, "result", &result);
        let result = match &state.result_selector {
            Some(selector) => Scope {
                run: self,
                input: &result,
                vars,
                state: context,
            }
            .build(selector)?,
            None => result,
        };
        self.inspect(state, "afterResultSelector", &result);
        self.assign(state, &result, vars, context)?;
        let combined = self.apply_result_path(&state.result_path, raw, result, context)?;
        self.inspect(state, "afterResultPath", &combined);
        let output = match &state.output_path {
            Selection::Whole => combined,
            selection => self
                .select_input(selection, &combined, context, vars)?
                .into_owned(),
        };
        Ok(step(output))
    }

    /// A Pass or Task result over the payload limit fails the state.
    pub(crate) fn check_result_size(
        &self,
        state: &State,
        result: &Value,
    ) -> Result<(), StatesError> {
        if fits(result, PAYLOAD_LIMIT_BYTES) {
            return Ok(());
        }
        // AWS names a Pass state by its name, a Task by its resource,
        // and an optimised integration (`arn:aws:states:::lambda:invoke`) by its service.
        let culprit = match &state.kind {
            Kind::Task(task) => match task.resource.strip_prefix("arn:aws:states:::") {
                Some(rest) => rest.split(':').next().unwrap_or(rest),
                None => &task.resource,
            },
            _ => &state.name,
        };
        Err(StatesError::data_limit(format!(
            "The state/task '{culprit}' returned a result with a size exceeding the maximum number of bytes service limit."
        )))
    }

    /// The end of a JSONata state: evaluates Output and Assign (a matched Choice Rule's
    /// own override the state's) on `$states.input` = `raw` and `$states.result`, with the
    /// variables from before the state, then assigns. Returns the state's output.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_jsonata(
        &self,
        jsonata: &JsonataFields,
        rule: Option<&Condition>,
        raw: &Value,
        states_result: Option<&Value>,
        default_output: &Value,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        let scope = Scope {
            run: self,
            input: raw,
            vars,
            state: context,
        };
        let output_tree = rule
            .and_then(|r| r.output.as_ref())
            .or(jsonata.output.as_ref());
        let assigns: Vec<&Tree> = [
            jsonata.assign.as_ref(),
            rule.and_then(|r| r.assign.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let (output, assigned) = scope.jsonata(states_result, None, |s| {
            let output = match output_tree {
                Some(tree) => s.build(tree)?,
                None => default_output.clone(),
            };
            let mut assigned = Vec::with_capacity(assigns.len());
            for tree in assigns {
                assigned.push(s.build(tree)?);
            }
            Ok::<_, StatesError>((output, assigned))
        })?;
        for values in assigned {
            self.apply_assign(vars, values, context)?;
        }
        Ok(output)
    }

    /// `TimeoutSeconds(Path)` / `HeartbeatSeconds(Path)` of a Task, evaluated. AWS (Task
    /// workflow state): the path "must select fields whose values are positive integers",
    /// as the literal is. (AWS documents no upper bound here: 99999999 is only the default.)
    /// A path that selects anything else fails with `States.Runtime`, an expression that
    /// evaluates to anything else with `States.QueryEvaluationError`.
    pub(crate) fn task_seconds(
        &self,
        count: &Count,
        scope: &Scope<'_>,
        field: &str,
    ) -> Result<u64, StatesError> {
        let value = self.count(count, scope, field)?;
        let seconds = value.as_u64().filter(|n| *n >= 1);
        if let Some(seconds) = seconds {
            return Ok(seconds);
        }
        Err(match count {
            Count::Path(path) => scope.runtime(format!(
                "The {field}Path field refers to value \"{}\" which is not a positive integer: {}",
                display_raw(&value),
                path.as_str()
            )),
            Count::Expr(_) => scope.evaluation_failed(
                field,
                format!(
                    "The value of the field '{field}' must be a positive integer, but was: {}",
                    display_raw(&value)
                ),
            ),
            // The validator refuses any other literal.
            Count::Literal(_) => scope.runtime(format!("{field} must be a positive integer.")),
        })
    }

    /// Resolves a `…Seconds` / `…SecondsPath` count to a positive integer.
    pub(crate) fn count(
        &self,
        count: &Count,
        scope: &Scope<'_>,
        field: &str,
    ) -> Result<Value, StatesError> {
        match count {
            Count::Literal(v) => Ok(v.clone()),
            Count::Expr(expr) => scope.jsonata(None, None, |s| s.value(expr, field)),
            Count::Path(path) => scope.select(path).map(Cow::into_owned).map_err(|_| {
                scope.runtime(format!(
                    "The {field}Path field could not be found in the input: {}",
                    path.as_str()
                ))
            }),
        }
    }
}

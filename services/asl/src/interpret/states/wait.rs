//! The Wait state's work: how long to wait, from Seconds, Timestamp, their paths or
//! expressions, with AWS's messages for values out of range.

use super::super::compile::{Kind, State, Wait};
use super::super::data_flow::{display_raw, Worked, MAX_SECONDS};
use super::super::run::{Run, StateContext, Step};
use super::super::scope::{Scope, Vars};
use crate::error::StatesError;
use crate::timestamp;
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

impl<'a> Run<'a> {
    /// Whether the top-level branch parks in `state` rather than sleeping: a Wait (which
    /// has no Retry or Catch to run around it).
    pub(crate) fn parks(state: &State) -> bool {
        matches!(state.kind, Kind::Wait(_)) && state.retry.is_empty() && state.catch.is_empty()
    }

    /// A parking Wait's first half, as `attempt` runs it up to its sleep: InputPath, then
    /// how long to wait.
    pub(crate) fn wait_for(
        &self,
        state: &State,
        raw: &Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Duration, StatesError> {
        let Kind::Wait(wait) = &state.kind else {
            unreachable!("only a Wait parks")
        };
        let prepared = self.prepare(state, raw, vars, context)?;
        let scope = Scope {
            run: self,
            input: prepared.effective(),
            vars,
            state: context,
        };
        self.wait_duration(wait, &scope)
    }

    /// A parked Wait's second half, as `attempt` runs it after its sleep: Assign and
    /// OutputPath (JSONPath) or Output and Assign (JSONata). InputPath is selected again
    /// (a pure read of the same input) rather than kept through the wait.
    pub(crate) fn after_wait(
        &self,
        state: &State,
        raw: Value,
        vars: &mut Vars,
        context: &StateContext<'_>,
    ) -> Result<Step, StatesError> {
        let worked = Worked::passed(state.transition);
        let settled = {
            let prepared = self.prepare(state, &raw, vars, context)?;
            self.settle(state, &prepared, &worked, vars, context)?
        };
        self.finish(state, Cow::Owned(raw), worked, settled, vars, context)
    }

    pub(crate) fn wait_duration(
        &self,
        wait: &Wait,
        scope: &Scope<'_>,
    ) -> Result<Duration, StatesError> {
        // AWS (Wait workflow state): "if you specify the wait time as a timestamp, Step
        // Functions considers the time value up to seconds and truncates milliseconds."
        let until = |ms: i64| {
            let ms = ms - ms.rem_euclid(1000);
            Duration::from_millis(ms.saturating_sub(self.services.clock.now_ms()).max(0) as u64)
        };
        match wait {
            Wait::Seconds(seconds) => Ok(Duration::from_secs(seconds.as_u64().unwrap_or(0))),
            Wait::SecondsPath(path) => {
                let value = scope.select(path).map_err(|_| {
                    scope.runtime(format!(
                        "The SecondsPath parameter does not reference an input value: {}",
                        path.as_str()
                    ))
                })?;
                // AWS's messages (as LocalStack records them): a negative count fails the
                // execution, it does not mean "no wait".
                match value.as_u64() {
                    Some(seconds) => Ok(Duration::from_secs(seconds)),
                    None if value.as_i64().is_some() => Err(scope.runtime(format!(
                        "The SecondsPath parameter references a negative value: {} == {}",
                        path.as_str(),
                        value
                    ))),
                    // The value as the TimestampPath message shows it: a string's text.
                    None => Err(scope.runtime(format!(
                        "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                        path.as_str(),
                        display_raw(&value)
                    ))),
                }
            }
            Wait::Timestamp(text) => Ok(until(timestamp::parse(text).unwrap_or(0))),
            Wait::SecondsExpr(expr) => scope.jsonata(None, None, |s| {
                let value = s.value(expr, "Seconds")?;
                // AWS (Wait workflow state): the expression "must evaluate to an integer in
                // the stated range", 0 to 99999999.
                match value.as_u64() {
                    Some(seconds) if seconds <= MAX_SECONDS => Ok(Duration::from_secs(seconds)),
                    None if value.as_i64().is_none() => {
                        Err(s.unexpected(expr, "Seconds", "integer", &value))
                    }
                    _ => Err(scope.evaluation_failed(
                        "Seconds",
                        format!(
                            "The value of the field 'Seconds' must be an integer from 0 to {MAX_SECONDS}, but was: {value}"
                        ),
                    )),
                }
            }),
            Wait::TimestampExpr(expr) => scope.jsonata(None, None, |s| {
                let value = s.value(expr, "Timestamp")?;
                match value.as_str().and_then(timestamp::parse) {
                    Some(ms) => Ok(until(ms)),
                    None => Err(scope.evaluation_failed(
                        "Timestamp",
                        format!(
                            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                            display_raw(&value)
                        ),
                    )),
                }
            }),
            Wait::TimestampPath(path) => {
                let value = scope.select(path).map_err(|_| {
                    scope.runtime(format!(
                        "The TimestampPath parameter does not reference an input value: {}",
                        path.as_str()
                    ))
                })?;
                match value.as_str().and_then(timestamp::parse) {
                    Some(ms) => Ok(until(ms)),
                    None => Err(scope.runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                        path.as_str(),
                        value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
                    ))),
                }
            }
        }
    }
}

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

    /// A Wait's input and variables as a parked execution keeps them, with no spare room in
    /// arrays and strings (a decoded array grew by doubling): a parked execution holds its
    /// state for the whole wait.
    pub(crate) fn compact_for_wait(input: &mut Value, vars: &mut Vars) {
        compact(input);
        vars.own.values_mut().for_each(compact);
        vars.own.shrink_to_fit();
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

/// `value` with no spare capacity in its arrays and strings. (An object's members keep
/// their room: serde_json's map sizes its entries to its index, however it is built.)
pub(crate) fn compact(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(compact),
        Value::Array(items) => {
            items.iter_mut().for_each(compact);
            items.shrink_to_fit();
        }
        Value::String(text) => text.shrink_to_fit(),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::compact;
    use serde_json::{json, Value};

    #[test]
    fn compacting_keeps_the_value_and_drops_spare_room() {
        let mut value: Value =
            serde_json::from_str(r#"{"z": [1, {"b": "x", "a": null}], "a": "text", "n": 1.5}"#)
                .expect("JSON");
        let mut items = vec![json!("item")];
        items.reserve(100);
        value["spare"] = Value::Array(items);
        let before = value.clone();
        compact(&mut value);
        assert_eq!(value, before);
        assert_eq!(
            value.to_string(),
            before.to_string(),
            "members keep their order"
        );
        let mut nested = json!({"a": {"b": []}});
        let mut room = vec![json!(1)];
        room.reserve(10);
        nested["a"]["b"] = Value::Array(room);
        compact(&mut nested);
        assert_eq!(nested["a"]["b"].as_array().expect("array").capacity(), 1);
        let spare = value["spare"].as_array().expect("array");
        assert_eq!(spare.capacity(), 1);
    }
}

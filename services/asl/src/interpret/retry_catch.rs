//! Retry and Catch: the one matcher that picks a retrier or a catcher for an error,
//! used by executions (which wait and retry) and by TestState (which reports RETRIABLE).

use super::compile::{Catcher, Jitter, Kind, State};
use super::run::{failure_details, Links, Run, StateContext, Step};
use super::scope::{Scope, Vars};
use crate::error::{ErrorName, StatesError};
use crate::history::HistoryEventType as Event;
use serde_json::Value;
use std::borrow::Cow;
use std::time::Duration;

/// What a state's Retry and Catch make of an error.
pub(crate) enum Handling<'s> {
    /// Run the state again, by this retrier (its index in `Retry`), which has attempts left.
    Retry(usize),
    /// Hand the error to this catcher.
    Catch(&'s Catcher),
    /// Nothing handles it: the error ends the branch.
    Unhandled,
}

impl<'s> Handling<'s> {
    /// The one matching rule, for executions and TestState alike: `States.Runtime` is never
    /// handled; otherwise the first retrier whose `ErrorEquals` matches retries while
    /// `attempts_by(index)` is below its `MaxAttempts`; once it is spent (or none matches),
    /// the first matching catcher catches.
    pub(crate) fn of(
        state: &'s State,
        error: &StatesError,
        attempts_by: impl Fn(usize) -> u64,
    ) -> Handling<'s> {
        if error.name == ErrorName::Runtime {
            return Handling::Unhandled;
        }
        let retrier = state
            .retry
            .iter()
            .position(|r| r.errors.iter().any(|e| e.matches(&error.name)));
        if let Some(index) = retrier {
            if attempts_by(index) < state.retry[index].max_attempts {
                return Handling::Retry(index);
            }
        }
        match state
            .catch
            .iter()
            .find(|c| c.errors.iter().any(|e| e.matches(&error.name)))
        {
            Some(catcher) => Handling::Catch(catcher),
            None => Handling::Unhandled,
        }
    }
}

impl<'a> Run<'a> {
    /// One state, with its Retry and Catch.
    pub(crate) async fn run_state(
        &self,
        state: &State,
        raw: Value,
        vars: &mut Vars,
        mut context: StateContext<'_>,
    ) -> Result<Step, StatesError> {
        if state.retry.is_empty() && state.catch.is_empty() {
            return self
                .attempt(state, Cow::Owned(raw), vars, &context)
                .await
                .inspect_err(|error| self.state_failed(state, error));
        }
        let mut attempts = vec![0u64; state.retry.len()];
        loop {
            let error = match self
                .attempt(state, Cow::Borrowed(&raw), vars, &context)
                .await
            {
                Ok(step) => return Ok(step),
                Err(error) => error,
            };
            match Handling::of(state, &error, |index| attempts[index]) {
                Handling::Retry(index) => {
                    // AWS records no `…StateFailed` for a retried attempt: the retry's
                    // first event follows the failed attempt's last.
                    context.attempt_after =
                        Links::take(&self.links.failed_after, || self.last_event());
                    let retrier = &state.retry[index];
                    let mut delay = retrier.interval_seconds
                        * retrier.backoff_rate.powi(attempts[index] as i32);
                    if let Some(max) = retrier.max_delay_seconds {
                        delay = delay.min(max);
                    }
                    if retrier.jitter == Jitter::Full {
                        let unit =
                            (self.services.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                        delay *= unit;
                    }
                    attempts[index] += 1;
                    context.retry_count += 1;
                    self.services
                        .clock
                        .sleep(Duration::from_secs_f64(delay.clamp(0.0, 1e9)))
                        .await;
                }
                Handling::Catch(catcher) => {
                    self.state_failed(state, &error);
                    return self.catch(catcher, raw, vars, &context, error);
                }
                Handling::Unhandled => {
                    self.state_failed(state, &error);
                    return Err(error);
                }
            }
        }
    }

    /// A Map's or Parallel's `…StateFailed` event, once no retry follows. A `States.Runtime`
    /// error ends the execution at once, with no state event (AWS's recorded histories).
    fn state_failed(&self, state: &State, error: &StatesError) {
        let after = Links::take(&self.links.failed_after, || self.last_event());
        let failed = match state.kind {
            Kind::Map(_) => Event::MapStateFailed,
            Kind::Parallel { .. } => Event::ParallelStateFailed,
            _ => return,
        };
        if error.name != ErrorName::Runtime {
            self.event(after, failed, || failure_details(error));
        }
    }

    pub(crate) fn catch(
        &self,
        catcher: &Catcher,
        raw: Value,
        vars: &mut Vars,
        context: &StateContext<'_>,
        error: StatesError,
    ) -> Result<Step, StatesError> {
        let error_output = error.to_output();
        if let Some(jsonata) = &catcher.jsonata {
            let scope = Scope {
                run: self,
                input: &raw,
                vars,
                state: context,
            };
            let (output, assigned) = scope.jsonata(None, Some(&error_output), |s| {
                let output = match &jsonata.output {
                    Some(tree) => s.build(tree)?,
                    None => error_output.clone(),
                };
                let assigned = jsonata.assign.as_ref().map(|t| s.build(t)).transpose()?;
                Ok::<_, StatesError>((output, assigned))
            })?;
            if let Some(values) = assigned {
                self.apply_assign(vars, values, context)?;
            }
            return Ok(Step::Next(catcher.next, output));
        }
        if let Some(assign) = &catcher.assign {
            let scope = Scope {
                run: self,
                input: &error_output,
                vars,
                state: context,
            };
            let values = scope.build(assign)?;
            self.apply_assign(vars, values, context)?;
        }
        let output =
            self.apply_result_path(&catcher.result_path, Cow::Owned(raw), error_output, context)?;
        Ok(Step::Next(catcher.next, output))
    }
}

//! The Task state's work: one call to the `TaskHandler`, with timeout and heartbeat,
//! its history events (Lambda ARNs have their own) and callback task tokens.

use super::super::api::*;
use super::super::compile::{State, Task, TaskEvents};
use super::super::run::*;
use super::super::scope::*;
use super::super::size::*;
use super::super::spans;
use super::super::PAYLOAD_LIMIT_BYTES;
use crate::error::{ErrorName, StatesError};
use crate::history::HistoryEventType as Event;
use futures::future::{self, Either, FutureExt};
use serde_json::{json, Value};
use std::time::Duration;

impl<'a> Run<'a> {
    /// `selected` is the input after InputPath, which the `…Path` fields read; `input` is
    /// after Parameters, what the integration receives.
    pub(crate) async fn task(
        &self,
        task: &Task,
        state: &State,
        selected: &Value,
        input: &Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        let scope = Scope {
            run: self,
            input: selected,
            vars,
            state: context,
        };
        let timeout = task
            .timeout
            .as_ref()
            .map(|c| self.count(c, &scope, "TimeoutSeconds"))
            .transpose()?;
        let heartbeat = task
            .heartbeat
            .as_ref()
            .map(|c| self.count(c, &scope, "HeartbeatSeconds"))
            .transpose()?;
        // AWS (Handling errors, States.DataLimitExceeded): also reported when "the input of
        // a state is larger than the payload size quota after Parameters processing".
        if !fits(input, PAYLOAD_LIMIT_BYTES) {
            return Err(StatesError::data_limit(format!(
                "The state/task '{}' has an input with a size exceeding the maximum number of bytes service limit.",
                state.name
            )));
        }
        let (scheduled, started, succeeded, failed, timed_out) = match task.events {
            TaskEvents::Lambda => (
                Event::LambdaFunctionScheduled,
                Event::LambdaFunctionStarted,
                Event::LambdaFunctionSucceeded,
                Event::LambdaFunctionFailed,
                Event::LambdaFunctionTimedOut,
            ),
            TaskEvents::Task => (
                Event::TaskScheduled,
                Event::TaskStarted,
                Event::TaskSucceeded,
                Event::TaskFailed,
                Event::TaskTimedOut,
            ),
        };
        let id = self.event(
            context.entered_event_id,
            scheduled,
            || json!({"resource": task.resource, "parameters": input}),
        );
        let id = self.event(id, started, || json!({"resource": task.resource}));
        let heartbeat_seconds = heartbeat.as_ref().and_then(Value::as_u64);
        let clock = self.services.clock;
        let signs_of_life = Heartbeat::starting_at(clock.now_ms());
        let request = TaskRequest {
            resource: &task.resource,
            input: input.clone(),
            state_name: &state.name,
            execution_arn: &self.info.execution_arn,
            task_token: context.task_token.map(str::to_owned),
            heartbeat_seconds,
            heartbeat: signs_of_life.clone(),
            credentials: task.credentials.as_ref(),
        };
        let span = spans::task(&task.resource, state);
        let call = spans::within(&span, || self.services.tasks.invoke(request));
        // AWS reports both limits with an empty cause (conformance: test_invoke_timeout).
        let timeout = match timeout.as_ref().and_then(Value::as_f64) {
            Some(seconds) => clock
                .sleep(Duration::from_secs_f64(seconds.clamp(0.0, 1e9)))
                .map(|_| StatesError::new(ErrorName::Timeout, ""))
                .boxed(),
            None => future::pending().boxed(),
        };
        let silence = match heartbeat_seconds {
            Some(seconds) => async move {
                let allowed_ms = seconds.saturating_mul(1000) as i64;
                loop {
                    let deadline = signs_of_life.last_ms().saturating_add(allowed_ms);
                    let now = clock.now_ms();
                    if now >= deadline {
                        return StatesError::new(ErrorName::HeartbeatTimeout, "");
                    }
                    clock
                        .sleep(Duration::from_millis((deadline - now) as u64))
                        .await;
                }
            }
            .boxed(),
            None => future::pending().boxed(),
        };
        let limit = future::select(timeout, silence).map(|either| either.factor_first().0);
        let result = match future::select(call, limit).await {
            Either::Left((result, _)) => result,
            Either::Right((error, _)) => {
                spans::failed(&span, &error);
                self.event(id, timed_out, || failure_details(&error));
                return Err(error);
            }
        };
        match result {
            Ok(output) => {
                self.event(id, succeeded, || json!({"output": output}));
                Ok(output)
            }
            Err(error) => {
                spans::failed(&span, &error);
                self.event(id, failed, || failure_details(&error));
                Err(error)
            }
        }
    }

    pub(crate) fn task_token(&self) -> String {
        self.services.tokens.mint(&self.info.execution_arn)
    }
}

//! The Task state's work: one call to the `TaskHandler`, with timeout and heartbeat,
//! its history events (Lambda ARNs have their own) and callback task tokens.

use super::super::api::{Heartbeat, TaskRequest};
use super::super::compile::{State, Task, TaskEvents};
use super::super::run::{failure_details, Run, StateContext};
use super::super::scope::{Scope, Vars};
use super::super::size::fits;
use super::super::spans;
use super::super::PAYLOAD_LIMIT_BYTES;
use crate::error::{ErrorName, StatesError};
use crate::history::HistoryEventType as Event;
use futures::future::{self, Either, FutureExt};
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
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
            .map(|c| self.task_seconds(c, &scope, "TimeoutSeconds"))
            .transpose()?;
        let heartbeat = task
            .heartbeat
            .as_ref()
            .map(|c| self.task_seconds(c, &scope, "HeartbeatSeconds"))
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
        // AWS's details: a Lambda ARN's events name the function and carry its input; the
        // other tasks' name the service and action (`lambda`, `invoke`) and carry parameters.
        let lambda = matches!(task.events, TaskEvents::Lambda);
        let about = |mut details: Map<String, Value>| {
            if !lambda {
                let (resource_type, resource) = resource_names(&task.resource);
                details.insert("resourceType".into(), resource_type.into());
                details.insert("resource".into(), resource.into());
            }
            Value::Object(details)
        };
        let id = self.event(context.attempt_after, scheduled, || {
            let mut details = Map::new();
            if lambda {
                details.insert("resource".into(), task.resource.clone().into());
                details.insert("input".into(), self.data(input).cloned().into());
            } else {
                details.insert("region".into(), region(&self.info.execution_arn).into());
                details.insert("parameters".into(), input.clone());
            }
            if let Some(seconds) = timeout {
                details.insert("timeoutInSeconds".into(), seconds.into());
            }
            if let (false, Some(seconds)) = (lambda, heartbeat) {
                details.insert("heartbeatInSeconds".into(), seconds.into());
            }
            about(details)
        });
        let id = self.event(id, started, || match lambda {
            true => json!({}),
            false => about(Map::new()),
        });
        let heartbeat_seconds = heartbeat;
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
        let timeout = match timeout {
            Some(seconds) => clock
                .sleep(Duration::from_secs(seconds))
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
                let failed_id = self.event(id, timed_out, || {
                    about(
                        failure_details(&error)
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    )
                });
                self.links.failed_after.store(failed_id, Ordering::Relaxed);
                return Err(error);
            }
        };
        // A result over the payload limit fails the task itself: AWS records
        // `…Failed`, not `…Succeeded` (conformance: data_limit_exceeded_on_large_utf8_response).
        let result = result.and_then(|output| {
            self.check_result_size(state, &output)?;
            Ok(output)
        });
        match result {
            Ok(output) => {
                self.event(id, succeeded, || {
                    about(Map::from_iter([(
                        "output".to_owned(),
                        self.data(&output).cloned().into(),
                    )]))
                });
                Ok(output)
            }
            Err(error) => {
                spans::failed(&span, &error);
                let failed_id = self.event(id, failed, || {
                    about(
                        failure_details(&error)
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    )
                });
                self.links.failed_after.store(failed_id, Ordering::Relaxed);
                Err(error)
            }
        }
    }

    pub(crate) fn task_token(&self) -> String {
        self.services.tokens.mint(&self.info.execution_arn)
    }
}

/// A task resource as AWS's task events name it: `arn:aws:states:::lambda:invoke` is service
/// `lambda`, action `invoke` (a `.sync`/`.waitForTaskToken` suffix stays on the action); any
/// other ARN is its service and the whole ARN.
fn resource_names(resource: &str) -> (&str, &str) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        if let Some((service, action)) = rest.split_once(':') {
            return (service, action);
        }
    }
    let service = resource.split(':').nth(2).filter(|s| !s.is_empty());
    (service.unwrap_or(resource), resource)
}

/// The region of an ARN (`arn:aws:states:REGION:…`); empty when it names none.
fn region(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_named_as_aws_names_them() {
        assert_eq!(
            resource_names("arn:aws:states:::lambda:invoke"),
            ("lambda", "invoke")
        );
        assert_eq!(
            resource_names("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            ("sqs", "sendMessage.waitForTaskToken")
        );
        let activity = "arn:aws:states:us-east-1:111111111111:activity:a";
        assert_eq!(resource_names(activity), ("states", activity));
        assert_eq!(resource_names("not-an-arn"), ("not-an-arn", "not-an-arn"));
        assert_eq!(region(activity), "us-east-1");
        assert_eq!(region("nope"), "");
    }
}

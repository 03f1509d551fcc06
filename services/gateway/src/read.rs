//! The read APIs over the execution store, in AWS's shapes, for Express executions:
//! ListExecutions, DescribeExecution, GetExecutionHistory and DescribeStateMachineForExecution.
//! The store is a view of the results and history topics, so every replica answers alike
//! (after its reader catches up); SQLite calls run off the async threads.

use crate::protocol::{self, epoch_seconds, ApiError};
use crate::state_machines::machine_name;
use crate::Gateway;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use store::{Cursor, Event, Execution, Filter, Status, Store};

/// Each history event type that carries details, with the `HistoryEvent` member AWS puts
/// them in; `…StateEntered`/`…StateExited` share two members (see `details_member`). Types
/// not named here (ParallelStateStarted, WaitStateAborted, …) have no details in AWS's API.
const DETAILS_MEMBERS: &[(&str, &str)] = &[
    ("ExecutionStarted", "executionStartedEventDetails"),
    ("ExecutionSucceeded", "executionSucceededEventDetails"),
    ("ExecutionFailed", "executionFailedEventDetails"),
    ("ExecutionTimedOut", "executionTimedOutEventDetails"),
    ("ExecutionAborted", "executionAbortedEventDetails"),
    ("ExecutionRedriven", "executionRedrivenEventDetails"),
    ("TaskScheduled", "taskScheduledEventDetails"),
    ("TaskStarted", "taskStartedEventDetails"),
    ("TaskStartFailed", "taskStartFailedEventDetails"),
    ("TaskSubmitted", "taskSubmittedEventDetails"),
    ("TaskSubmitFailed", "taskSubmitFailedEventDetails"),
    ("TaskSucceeded", "taskSucceededEventDetails"),
    ("TaskFailed", "taskFailedEventDetails"),
    ("TaskTimedOut", "taskTimedOutEventDetails"),
    (
        "LambdaFunctionScheduled",
        "lambdaFunctionScheduledEventDetails",
    ),
    (
        "LambdaFunctionScheduleFailed",
        "lambdaFunctionScheduleFailedEventDetails",
    ),
    (
        "LambdaFunctionStartFailed",
        "lambdaFunctionStartFailedEventDetails",
    ),
    (
        "LambdaFunctionSucceeded",
        "lambdaFunctionSucceededEventDetails",
    ),
    ("LambdaFunctionFailed", "lambdaFunctionFailedEventDetails"),
    (
        "LambdaFunctionTimedOut",
        "lambdaFunctionTimedOutEventDetails",
    ),
    ("MapStateStarted", "mapStateStartedEventDetails"),
    ("MapIterationStarted", "mapIterationStartedEventDetails"),
    ("MapIterationSucceeded", "mapIterationSucceededEventDetails"),
    ("MapIterationFailed", "mapIterationFailedEventDetails"),
    ("MapIterationAborted", "mapIterationAbortedEventDetails"),
    ("MapRunStarted", "mapRunStartedEventDetails"),
    ("MapRunFailed", "mapRunFailedEventDetails"),
    ("EvaluationFailed", "evaluationFailedEventDetails"),
];

/// The `HistoryEvent` member that holds an event type's details, if it has one.
pub fn details_member(event_type: &str) -> Option<&'static str> {
    if event_type.ends_with("StateEntered") {
        return Some("stateEnteredEventDetails");
    }
    if event_type.ends_with("StateExited") {
        return Some("stateExitedEventDetails");
    }
    DETAILS_MEMBERS
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, member)| *member)
}

fn store_of(gateway: &Gateway) -> Result<Arc<Store>, ApiError> {
    gateway.store().cloned().ok_or_else(|| {
        ApiError::Validation(
            "This gateway keeps no execution store: start it with store = \"memory\" or \"file:PATH\""
                .into(),
        )
    })
}

/// Runs a store call on the blocking pool: SQLite waits for the ingest batch's lock.
async fn blocking<T: Send + 'static>(
    store: Arc<Store>,
    call: impl FnOnce(&Store) -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .map_err(|e| ApiError::Internal(format!("The execution store failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Checks an Express execution ARN (`arn:aws:states:R:A:express:MACHINE:NAME[:ID]`).
pub fn check_execution_arn(arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let valid = arn.starts_with("arn:")
        && (8..=9).contains(&parts.len())
        && parts[2] == "states"
        && matches!(parts[5], "express" | "execution")
        && parts[6..].iter().all(|p| protocol::valid_name(p));
    if valid {
        Ok(())
    } else {
        Err(ApiError::InvalidArn(format!(
            "Invalid Arn: 'Resource type not valid in this context: {arn}'"
        )))
    }
}

fn does_not_exist(arn: &str) -> ApiError {
    ApiError::ExecutionDoesNotExist(format!("Execution Does Not Exist: '{arn}'"))
}

fn max_results(value: Option<i64>) -> Result<usize, ApiError> {
    match value {
        None | Some(0) => Ok(100),
        Some(n @ 1..=1000) => Ok(n as usize),
        Some(n) => Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000 and greater than or equal to 0"
        ))),
    }
}

fn invalid_token(token: &str) -> ApiError {
    ApiError::InvalidToken(format!("Invalid Token: '{token}'"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    #[serde(default)]
    state_machine_arn: Option<String>,
    #[serde(default)]
    map_run_arn: Option<String>,
    #[serde(default)]
    status_filter: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    redrive_filter: Option<String>,
}

/// An execution as ListExecutions lists it.
pub fn list_item(execution: &Execution) -> Value {
    let mut item = json!({
        "executionArn": execution.execution_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.status.as_str(),
        "startDate": epoch_seconds(execution.start_ms),
    });
    if let Some(stop) = execution.stop_ms {
        item["stopDate"] = epoch_seconds(stop);
    }
    item
}

/// ListExecutions: newest first; `statusFilter` and pages as AWS's. Express executions only.
pub async fn list_executions(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: ListInput = protocol::parse(body)?;
    if input.map_run_arn.is_some() {
        return Err(ApiError::Validation(
            "Distributed Map runs do not exist in Express workflows: use stateMachineArn".into(),
        ));
    }
    if input.redrive_filter.is_some() {
        return Err(ApiError::Validation(
            "Express executions cannot be redriven: redriveFilter does not apply".into(),
        ));
    }
    let arn = input.state_machine_arn.ok_or_else(|| {
        ApiError::Validation("Must provide a StateMachine ARN or MapRun ARN".into())
    })?;
    let machine = machine_name(&arn)?;
    let limit = max_results(input.max_results)?;
    let status = match input.status_filter.as_deref() {
        None => None,
        // Express executions are never redriven: nothing is PENDING_REDRIVE.
        Some("PENDING_REDRIVE") => return Ok(protocol::ok(json!({"executions": []}))),
        Some(text) => Some(Status::parse(text).ok_or_else(|| {
            ApiError::Validation(format!(
                "1 validation error detected: Value '{text}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]"
            ))
        })?),
    };
    let after = match input.next_token.as_deref() {
        None => None,
        Some(token) => Some(Cursor::from_token(token).ok_or_else(|| invalid_token(token))?),
    };
    let store = store_of(gateway)?;
    let filter = Filter {
        state_machine_arn: Some(gateway.registry().arn(machine)),
        status,
        ..Filter::default()
    };
    let page = blocking(store, move |s| s.list(&filter, limit, after)).await?;
    if page.executions.is_empty()
        && after.is_none()
        && gateway
            .second_look(|| gateway.registry().get(machine))
            .await
            .is_none()
    {
        return Err(crate::state_machines::does_not_exist(&arn));
    }
    let mut answer =
        json!({"executions": page.executions.iter().map(list_item).collect::<Vec<_>>()});
    if let Some(next) = page.next {
        answer["nextToken"] = next.to_token().into();
    }
    Ok(protocol::ok(answer))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionInput {
    execution_arn: String,
}

/// An execution with its input (from its ExecutionStarted event, when the history has it).
async fn load(gateway: &Gateway, arn: &str) -> Result<(Execution, Option<String>), ApiError> {
    check_execution_arn(arn)?;
    let store = store_of(gateway)?;
    let key = arn.to_owned();
    let (execution, first) = blocking(store, move |s| {
        let execution = s.execution(&key)?;
        let first = match execution {
            Some(_) => s.history(&key, None, 1, false)?,
            None => None,
        };
        Ok((execution, first))
    })
    .await?;
    let execution = execution.ok_or_else(|| does_not_exist(arn))?;
    let input = first
        .into_iter()
        .flatten()
        .find(|e| e.event_type == "ExecutionStarted")
        .and_then(|e| started_input(&e));
    Ok((execution, input))
}

/// The execution input an ExecutionStarted event carries, as JSON text.
pub fn started_input(event: &Event) -> Option<String> {
    let details: Value = serde_json::from_str(&event.details).ok()?;
    details.get("input").map(json_text)
}

/// AWS's API carries inputs and outputs as JSON text; history records may hold them as JSON
/// values (the engine's details) or as text (AWS's log shape). Either reads as text.
fn json_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// DescribeExecution: AWS's shape; `input` comes from the history (absent without it).
pub async fn describe_execution(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: ExecutionInput = protocol::parse(body)?;
    let (execution, execution_input) = load(gateway, &input.execution_arn).await?;
    Ok(protocol::ok(describe_json(&execution, execution_input)))
}

/// The DescribeExecution answer of a stored execution.
pub fn describe_json(execution: &Execution, input: Option<String>) -> Value {
    let mut answer = list_item(execution);
    match input {
        Some(input) => {
            answer["input"] = input.into();
            answer["inputDetails"] = json!({"included": true});
        }
        None => answer["inputDetails"] = json!({"included": false}),
    }
    if execution.status == Status::Succeeded {
        answer["output"] = execution
            .output
            .clone()
            .unwrap_or_else(|| "null".into())
            .into();
        answer["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = &execution.error {
        answer["error"] = error.clone().into();
    }
    if let Some(cause) = &execution.cause {
        answer["cause"] = cause.clone().into();
    }
    answer
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryInput {
    execution_arn: String,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    reverse_order: bool,
    #[serde(default = "yes")]
    include_execution_data: bool,
}

fn yes() -> bool {
    true
}

/// A stored event in AWS's `HistoryEvent` shape.
pub fn history_event(event: &Event, include_execution_data: bool) -> Value {
    let mut value = json!({
        "timestamp": epoch_seconds(event.timestamp_ms),
        "type": event.event_type,
        "id": event.id,
        "previousEventId": event.previous_event_id,
    });
    if let Some(member) = details_member(&event.event_type) {
        let mut details: Map<String, Value> =
            serde_json::from_str(&event.details).unwrap_or_default();
        for field in ["input", "output"] {
            if !include_execution_data {
                details.remove(field);
            } else if let Some(value) = details.get_mut(field) {
                *value = Value::String(json_text(value));
            }
        }
        value[member] = Value::Object(details);
    }
    value
}

/// GetExecutionHistory: pages of events by id, either way; execution data unless told not.
pub async fn get_execution_history(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: HistoryInput = protocol::parse(body)?;
    check_execution_arn(&input.execution_arn)?;
    let limit = max_results(input.max_results)?;
    let after = match input.next_token.as_deref() {
        None => None,
        Some(token) => Some(
            token
                .strip_prefix("h1.")
                .and_then(|id| id.parse::<i64>().ok())
                .ok_or_else(|| invalid_token(token))?,
        ),
    };
    let store = store_of(gateway)?;
    let arn = input.execution_arn.clone();
    let reverse = input.reverse_order;
    // One more than asked says whether a next page exists.
    let events = blocking(store, move |s| s.history(&arn, after, limit + 1, reverse))
        .await?
        .ok_or_else(|| does_not_exist(&input.execution_arn))?;
    let more = events.len() > limit;
    let page = &events[..events.len().min(limit)];
    let mut answer = json!({
        "events": page.iter().map(|e| history_event(e, input.include_execution_data)).collect::<Vec<_>>(),
    });
    if let (true, Some(last)) = (more, page.last()) {
        answer["nextToken"] = format!("h1.{}", last.id).into();
    }
    Ok(protocol::ok(answer))
}

/// DescribeStateMachineForExecution: the state machine's current revision (Quickstep's
/// registry keeps the latest revision of each machine, not every one an execution ran).
pub async fn describe_state_machine_for_execution(
    gateway: &Gateway,
    body: &[u8],
) -> Result<Response, ApiError> {
    let input: ExecutionInput = protocol::parse(body)?;
    let (execution, _) = load(gateway, &input.execution_arn).await?;
    let machine = machine_name(&execution.state_machine_arn)?;
    let described = gateway
        .second_look(|| crate::state_machines::describe_value(gateway, machine))
        .await
        .ok_or_else(|| crate::state_machines::does_not_exist(&execution.state_machine_arn))?;
    let mut answer = json!({
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "definition": described["definition"],
        "roleArn": described["roleArn"],
        // The registry keeps when a machine was created, not each update's date.
        "updateDate": described["creationDate"],
        "loggingConfiguration": described["loggingConfiguration"],
        "tracingConfiguration": described["tracingConfiguration"],
    });
    if let Some(revision) = described.get("revisionId") {
        answer["revisionId"] = revision.clone();
    }
    Ok(protocol::ok(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_members_follow_aws() {
        assert_eq!(
            details_member("TaskStateEntered"),
            Some("stateEnteredEventDetails")
        );
        assert_eq!(
            details_member("ChoiceStateExited"),
            Some("stateExitedEventDetails")
        );
        assert_eq!(
            details_member("ExecutionFailed"),
            Some("executionFailedEventDetails")
        );
        assert_eq!(
            details_member("MapIterationStarted"),
            Some("mapIterationStartedEventDetails")
        );
        assert_eq!(details_member("ParallelStateStarted"), None);
        assert_eq!(details_member("SomethingNew"), None);
    }

    #[test]
    fn execution_arns_are_checked() {
        check_execution_arn("arn:aws:states:local:000000000000:express:order:n1").expect("valid");
        check_execution_arn("arn:aws:states:local:000000000000:express:order:n1:abc")
            .expect("valid");
        for bad in [
            "nope",
            "arn:aws:states:local:000000000000:stateMachine:order",
            "arn:aws:s3:local:000000000000:express:order:n1",
            "arn:aws:states:local:000000000000:express:order:bad name",
        ] {
            assert!(
                matches!(check_execution_arn(bad), Err(ApiError::InvalidArn(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn events_hide_data_when_asked() {
        let event = Event {
            id: 2,
            previous_event_id: 1,
            timestamp_ms: 1_500,
            event_type: "PassStateEntered".into(),
            details: r#"{"name": "A", "input": "{}", "inputDetails": {"truncated": false}}"#.into(),
        };
        let with = history_event(&event, true);
        assert_eq!(with["stateEnteredEventDetails"]["input"], "{}");
        assert_eq!(with["previousEventId"], 1);
        assert_eq!(with["timestamp"], 1.5);
        let without = history_event(&event, false);
        assert_eq!(
            without["stateEnteredEventDetails"],
            json!({"name": "A", "inputDetails": {"truncated": false}})
        );
    }
}

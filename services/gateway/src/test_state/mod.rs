//! TestState: one state with its input, run once in this process (`asl`'s
//! `Machine::test_state`). The definition is one state (its transition targets stand in as
//! Succeed states) or a whole machine with `stateName`. A `mock` answers the Task instead of
//! the integrations. `inspectionLevel` INFO answers the outcome; DEBUG and TRACE add the
//! data flow step by step (`inspectionData`, values as JSON text). The request is checked
//! as AWS checks it (`checks`), and mocked results against the API's output shape
//! (`api_outputs`).

mod api_outputs;
mod checks;

use crate::protocol::{self, ApiError, Operation};
use crate::Gateway;
use asl::interpret::PAYLOAD_LIMIT_BYTES;
use asl::validate::{self, MachineType};
use asl::{ExecutionInfo, Machine, Services, StatesError, TaskHandler, TaskRequest};
use axum::response::Response;
use futures::future::BoxFuture;
use runtime::clock::{system_rng, SystemClock};
use runtime::tasks::http_trace;
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestStateRequest {
    definition: String,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    inspection_level: Option<String>,
    #[serde(default)]
    state_name: Option<String>,
    #[serde(default)]
    variables: Option<String>,
    #[serde(default)]
    mock: Option<Mock>,
    #[serde(default)]
    state_configuration: Option<StateConfiguration>,
    #[serde(default)]
    reveal_secrets: Option<bool>,
    #[serde(default)]
    context: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mock {
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    error_output: Option<MockError>,
    #[serde(default)]
    field_validation_mode: Option<api_outputs::FieldValidationMode>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MockError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateConfiguration {
    #[serde(default)]
    retrier_retry_count: Option<u64>,
    #[serde(default)]
    map_iteration_failure_count: Option<u64>,
    #[serde(default)]
    error_caused_by_state: Option<String>,
    #[serde(default)]
    map_item_reader_data: Option<String>,
}

/// Answers Task states with the request's mock, else with the gateway's integrations.
struct MockTasks<'a> {
    result: Option<Value>,
    error: Option<StatesError>,
    fallback: &'a dyn TaskHandler,
}

impl TaskHandler for MockTasks<'_> {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        if let Some(error) = &self.error {
            let error = error.clone();
            return Box::pin(async move { Err(error) });
        }
        if let Some(result) = &self.result {
            let result = result.clone();
            return Box::pin(async move { Ok(result) });
        }
        self.fallback.invoke(request)
    }
}

fn json_text(field: &str, text: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::Validation(format!("The field '{field}' is not valid JSON: {e}")))
}

/// Every state name a state transitions to.
fn targets(state: &Value) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(name) = v.and_then(Value::as_str) {
            names.push(name.to_owned());
        }
    };
    add(state.get("Next"));
    add(state.get("Default"));
    for list in ["Choices", "Catch"] {
        if let Some(items) = state.get(list).and_then(Value::as_array) {
            for item in items {
                add(item.get("Next"));
            }
        }
    }
    names
}

/// A one-state definition as a machine: the state, and a Succeed state for each target.
fn wrap(state: Value, name: &str) -> Value {
    let mut states = Map::new();
    for target in targets(&state) {
        if target != name {
            states.insert(target, json!({"Type": "Succeed"}));
        }
    }
    states.insert(name.to_owned(), state);
    json!({"StartAt": name, "States": states})
}

/// The inspection fields whose API value is JSON text; the others (`maxConcurrency`,
/// `toleratedFailureCount`, `toleratedFailurePercentage`, `errorDetails`) are numbers and
/// objects in the API.
const JSON_TEXT_FIELDS: [&str; 12] = [
    "input",
    "afterArguments",
    "afterInputPath",
    "afterParameters",
    "result",
    "afterResultSelector",
    "afterResultPath",
    "variables",
    "afterItemsPath",
    "afterItemSelector",
    "afterItemBatcher",
    "afterItemsPointer",
];

/// TestState.
pub async fn test_state(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let request: TestStateRequest = protocol::parse(body)?;
    let inspect = match request.inspection_level.as_deref() {
        None | Some("INFO") => false,
        Some("DEBUG" | "TRACE") => true,
        Some(other) => return Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
        ))),
    };
    let definition = json_text("definition", &request.definition).map_err(|_| {
        ApiError::InvalidDefinition(validate::aws_message(&validate::validate_text_for(
            &request.definition,
            MachineType::Standard,
        )))
    })?;
    let whole = definition.get("States").is_some();
    let (machine_json, state_name) = if whole {
        let name = match request.state_name.clone() {
            Some(name) => name,
            None => definition
                .get("StartAt")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        };
        (definition, name)
    } else {
        // AWS calls a lone state `StateName` ($$.State.Name); nested states may not share it.
        let text = definition.to_string();
        let mut name = request
            .state_name
            .clone()
            .unwrap_or_else(|| asl::TESTED_STATE_NAME.to_owned());
        while text.contains(&format!("\"{name}\"")) {
            name.push('_');
        }
        (wrap(definition, &name), name)
    };
    let machine = Machine::from_definition(&machine_json, MachineType::Standard)
        .map_err(|e| ApiError::InvalidDefinition(e.to_string()))?;
    let config = request.state_configuration.unwrap_or_default();
    // A request-level rule, checked before the state's type is.
    if request.mock.is_none() && config.map_iteration_failure_count.is_some() {
        return Err(ApiError::Validation(
            "TestState does not support MapIterationFailureCount when a mock is not specified."
                .into(),
        ));
    }
    let state = checks::find_state(&machine_json, &state_name)
        .filter(|_| machine.has_state(&state_name))
        .ok_or_else(|| ApiError::Validation("State not found in definition".into()))?;
    let mock = checks::mock(
        state,
        request.mock.as_ref(),
        request.reveal_secrets.unwrap_or(false),
        &config,
        request.role_arn.is_some(),
    )?;
    let context = request
        .context
        .as_deref()
        .map(|text| json_text("context", text))
        .transpose()?;
    if let Some(context) = &context {
        checks::context(state, context)?;
    }
    if let Some(text) = &config.map_item_reader_data {
        json_text("stateConfiguration.mapItemReaderData", text)?;
    }
    let input_text = request.input.unwrap_or_else(|| "{}".into());
    if input_text.len() > PAYLOAD_LIMIT_BYTES {
        return Err(ApiError::InvalidExecutionInput(format!(
            "The input of {} bytes exceeds the maximum of {PAYLOAD_LIMIT_BYTES} bytes",
            input_text.len()
        )));
    }
    let input = serde_json::from_str(&input_text).map_err(|e| {
        ApiError::InvalidExecutionInput(format!("Invalid State Machine Execution Input: '{e}'"))
    })?;
    let variables = match request.variables.as_deref() {
        None => Map::new(),
        Some(text) => match json_text("variables", text)? {
            Value::Object(map) => map,
            _ => {
                return Err(ApiError::Validation(
                    "The field 'variables' must be a JSON object".into(),
                ))
            }
        },
    };
    // A Task's mock answers through the task handler; a Map's or Parallel's stands in for
    // its iterations or branches inside the engine.
    let composite = matches!(
        state.get("Type").and_then(Value::as_str),
        Some("Map" | "Parallel")
    );
    let (task_mock, state_mock) = if composite {
        (None, mock)
    } else {
        (mock, None)
    };
    let (task_result, task_error) = match task_mock {
        Some(Ok(result)) => (Some(result), None),
        Some(Err(error)) => (None, Some(error)),
        None => (None, None),
    };
    let _slot = gateway.sync_slot(Operation::TestState)?;
    let tasks = MockTasks {
        result: task_result,
        error: task_error,
        fallback: gateway.executor_tasks.as_ref(),
    };
    let rng = system_rng();
    let services = Services {
        tasks: &tasks,
        clock: &SystemClock,
        rng: &rng,
        tokens: gateway.callbacks.keys().as_ref(),
        history: None,
    };
    let execution_name = gateway.uuid();
    let info = ExecutionInfo {
        execution_arn: format!(
            "arn:aws:states:{}:{}:express:TestState:{execution_name}",
            gateway.config.region, gateway.config.account
        ),
        name: execution_name,
        role_arn: request.role_arn.unwrap_or_default().into(),
        state_machine_arn: format!(
            "arn:aws:states:{}:{}:stateMachine:TestState",
            gateway.config.region, gateway.config.account
        )
        .into(),
        state_machine_name: "TestState".into(),
        redrive_count: None,
    };
    let test = asl::TestStateInput {
        state_name: state_name.clone(),
        input,
        variables,
        retrier_retry_count: config.retrier_retry_count.unwrap_or(0),
        context,
        state_mock,
        map_iteration_failure_count: config.map_iteration_failure_count,
    };
    // TRACE also shows an HTTP Task's request and response (what a connection adds only
    // with revealSecrets).
    let trace = request.inspection_level.as_deref() == Some("TRACE");
    let reveal_secrets = request.reveal_secrets.unwrap_or(false);
    let (outcome, exchange) =
        http_trace::capture(reveal_secrets, machine.test_state(test, &info, &services)).await;
    let outcome =
        outcome.ok_or_else(|| ApiError::Validation(format!("No state '{state_name}'")))?;
    let mut answer = json!({"status": outcome.status.as_str()});
    if let Some(output) = &outcome.output {
        answer["output"] = output.to_string().into();
    }
    if let Some(error) = &outcome.error {
        answer["error"] = error.clone().into();
    }
    if let Some(cause) = &outcome.cause {
        answer["cause"] = cause.clone().into();
    }
    if let Some(next) = &outcome.next_state {
        answer["nextState"] = next.clone().into();
    }
    if inspect {
        let data: Map<String, Value> = outcome
            .inspection
            .into_iter()
            .map(|(k, v)| {
                let v = if JSON_TEXT_FIELDS.contains(&k.as_str()) {
                    Value::String(v.to_string())
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        let mut data = data;
        if trace {
            if let Some(request) = exchange.request {
                data.insert("request".into(), request);
            }
            if let Some(response) = exchange.response {
                data.insert("response".into(), response);
            }
        }
        answer["inspectionData"] = Value::Object(data);
    }
    Ok(protocol::ok(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_state_is_wrapped_with_its_targets() {
        let machine = wrap(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "Yes"}], "Default": "No"}),
            "C",
        );
        assert_eq!(machine["StartAt"], "C");
        assert_eq!(machine["States"]["Yes"], json!({"Type": "Succeed"}));
        assert_eq!(machine["States"]["No"], json!({"Type": "Succeed"}));
        Machine::from_definition(&machine, MachineType::Standard).expect("valid");
    }
}

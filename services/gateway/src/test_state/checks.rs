//! TestState's request checks, as AWS makes them and words them: which states take a mock
//! (and which need one), what a Map's or Parallel's mock must look like, the mocked
//! result's shape, and the caller's context object.

use super::api_outputs;
use super::{json_text, Mock, StateConfiguration};
use crate::protocol::ApiError;
use asl::{ErrorName, StatesError};
use serde_json::Value;

/// The states TestState runs without a mock, as AWS lists them.
const UNMOCKED_TYPES: &str = "[Task, Wait, Pass, Succeed, Fail, Choice]";

/// The state named `name` in a definition: at its top level or inside a Map's
/// ItemProcessor (or Iterator) or a Parallel's branch.
pub(super) fn find_state<'d>(definition: &'d Value, name: &str) -> Option<&'d Value> {
    let states = definition.get("States")?.as_object()?;
    if let Some(state) = states.get(name) {
        return Some(state);
    }
    states.values().find_map(|state| {
        let inner = ["ItemProcessor", "Iterator"]
            .iter()
            .filter_map(|field| state.get(*field))
            .chain(
                state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
        inner
            .into_iter()
            .find_map(|branch| find_state(branch, name))
    })
}

/// Whether a Task's resource is an activity or an integration pattern that waits for a
/// job (`.sync`, `.sync:2`) or a callback (`.waitForTaskToken`).
fn waits_for_the_outside(state: &Value) -> bool {
    let resource = state
        .get("Resource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    resource.contains(":activity:")
        || resource.ends_with(".sync")
        || resource.contains(".sync:")
        || resource.ends_with(".waitForTaskToken")
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::Validation(message.into())
}

/// Checks the mock against the state and the request, and reads it: the mocked result or
/// error, or `None` without a mock.
pub(super) fn mock(
    state: &Value,
    mock: Option<&Mock>,
    reveal_secrets: bool,
    config: &StateConfiguration,
    role_arn: bool,
) -> Result<Option<Result<Value, StatesError>>, ApiError> {
    let kind = state
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(mock) = mock else {
        if matches!(kind, "Map" | "Parallel") {
            return Err(ApiError::InvalidDefinition(format!(
                "TestState API does not support Map or Parallel states. Supported state types include: {UNMOCKED_TYPES}"
            )));
        }
        // Without a mock these would wait on the outside world (AWS: TestState supports
        // them only with a mock).
        if kind == "Task" && waits_for_the_outside(state) {
            return Err(ApiError::InvalidDefinition(
                "TestState API does not support Activity tasks, .sync or .waitForTaskToken service integration patterns when a mock is not specified".into(),
            ));
        }
        if kind == "Task" && !role_arn {
            return Err(invalid(
                "RoleArn must be specified when testing a Task state",
            ));
        }
        return Ok(None);
    };
    if mock.result.is_some() && mock.error_output.is_some() {
        return Err(invalid(
            "A test mock should have only one of the following fields: [result, errorOutput].",
        ));
    }
    if reveal_secrets {
        return Err(invalid(
            "TestState does not support RevealSecrets when a mock is specified.",
        ));
    }
    if !matches!(kind, "Task" | "Map" | "Parallel") {
        return Err(invalid(format!(
            "State type '{kind}' is not supported when a mock is specified"
        )));
    }
    if let Some(name) = &config.error_caused_by_state {
        // The error comes from a state inside the Map or Parallel: it must be one of them.
        let inside = ["ItemProcessor", "Iterator"]
            .iter()
            .filter_map(|field| state.get(*field))
            .chain(
                state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .any(|branch| find_state(branch, name).is_some());
        if !inside {
            return Err(invalid(format!(
                "errorCausedByState '{name}' does not name a state inside the Map or Parallel state under test"
            )));
        }
    }
    if let Some(error) = &mock.error_output {
        return Ok(Some(Err(StatesError {
            name: ErrorName::parse(error.error.as_deref().unwrap_or("")),
            cause: error.cause.clone(),
        })));
    }
    let Some(text) = &mock.result else {
        return Err(invalid(
            "A test mock should have one of the following fields: [result, errorOutput].",
        ));
    };
    let result =
        json_text("mock.result", text).map_err(|_| invalid("Mocked result must be valid JSON"))?;
    match kind {
        "Parallel" => {
            let branches = state
                .get("Branches")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if result.as_array().map(Vec::len) != Some(branches) {
                return Err(invalid(
                    "Mocked result must contain the same number of items as number of Parallel branches.",
                ));
            }
        }
        "Map" => {
            let Some(items) = result.as_array() else {
                return Err(invalid("Mocked result must be an array for a Map state."));
            };
            if config
                .map_iteration_failure_count
                .is_some_and(|count| count > items.len() as u64)
            {
                return Err(invalid(
                    "Map iteration failure count must be less than or equal to the number of Map iterations",
                ));
            }
        }
        _ => {
            let resource = state
                .get("Resource")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mode = mock.field_validation_mode.unwrap_or_default();
            api_outputs::validate(resource, &result, mode).map_err(invalid)?;
        }
    }
    Ok(Some(Ok(result)))
}

/// The fields a caller's context object may hold, by part (AWS's context object, less
/// `Map`, which TestState builds itself).
const CONTEXT_FIELDS: [(&str, &[&str]); 4] = [
    (
        "Execution",
        &[
            "Id",
            "Input",
            "Name",
            "RoleArn",
            "StartTime",
            "RedriveCount",
            "RedriveTime",
        ],
    ),
    ("State", &["EnteredTime", "Name", "RetryCount"]),
    ("StateMachine", &["Id", "Name"]),
    ("Task", &["Token"]),
];

/// Checks the caller's context object (`context`) as AWS does.
pub(super) fn context(state: &Value, context: &Value) -> Result<(), ApiError> {
    let bad = |detail: String| invalid(format!("Invalid Context object provided: {detail}"));
    let Value::Object(parts) = context else {
        return Err(bad("The context object must be a JSON object".into()));
    };
    for (part, value) in parts {
        if part == "Map" {
            return Err(bad(
                "'Map' field is not supported when mocking a Context object".into(),
            ));
        }
        let Some((_, fields)) = CONTEXT_FIELDS.iter().find(|(name, _)| name == part) else {
            return Err(bad(format!("Field '{part}' is not allowed")));
        };
        let Value::Object(members) = value else {
            return Err(bad(format!("{part} must be an object")));
        };
        for (field, value) in members {
            if !fields.contains(&field.as_str()) {
                return Err(bad(format!("Field '{field}' is not allowed")));
            }
            let text = !matches!(field.as_str(), "Input" | "RetryCount" | "RedriveCount");
            if text && !value.is_string() {
                return Err(bad(format!("{part}.{field} must be a string")));
            }
            if !text && field != "Input" && !value.is_u64() {
                return Err(bad(format!("{part}.{field} must be an integer")));
            }
        }
    }
    let resource = state
        .get("Resource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let callback = !resource.contains(":activity:") && waits_for_the_outside(state);
    if parts.contains_key("Task")
        && !(state.get("Type").and_then(Value::as_str) == Some("Task") && callback)
    {
        return Err(bad("Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(error: ApiError) -> String {
        error.to_string()
    }

    fn mock_of(result: Option<Value>, error: bool) -> Mock {
        Mock {
            result: result.map(|r| r.to_string()),
            error_output: error.then(|| super::super::MockError {
                error: Some("E".into()),
                cause: None,
            }),
            field_validation_mode: None,
        }
    }

    #[test]
    fn nested_states_are_found() {
        let definition = json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}], "End": true}}});
        assert_eq!(
            find_state(&definition, "I").expect("in the Map")["Type"],
            "Pass"
        );
        assert_eq!(
            find_state(&definition, "B").expect("in a branch")["Type"],
            "Succeed"
        );
        assert!(find_state(&definition, "nope").is_none());
    }

    #[test]
    fn mocks_are_checked_against_the_state() {
        let config = StateConfiguration::default();
        let pass = json!({"Type": "Pass"});
        let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"});
        let parallel = json!({"Type": "Parallel", "Branches": [{}, {}]});
        let map = json!({"Type": "Map"});
        let cases = [
            (
                mock(
                    &pass,
                    Some(&mock_of(Some(json!({})), false)),
                    false,
                    &config,
                    true,
                ),
                "State type 'Pass' is not supported",
            ),
            (
                mock(
                    &task,
                    Some(&mock_of(Some(json!({})), true)),
                    false,
                    &config,
                    true,
                ),
                "only one of the following fields",
            ),
            (
                mock(
                    &task,
                    Some(&mock_of(Some(json!({})), false)),
                    true,
                    &config,
                    true,
                ),
                "RevealSecrets",
            ),
            (
                mock(&task, None, false, &config, false),
                "RoleArn must be specified",
            ),
            (
                mock(&parallel, None, false, &config, true),
                "does not support Map or Parallel",
            ),
            (
                mock(
                    &parallel,
                    Some(&mock_of(Some(json!([1])), false)),
                    false,
                    &config,
                    true,
                ),
                "number of Parallel branches",
            ),
            (
                mock(
                    &map,
                    Some(&mock_of(Some(json!({})), false)),
                    false,
                    &config,
                    true,
                ),
                "must be an array",
            ),
            (
                mock(
                    &task,
                    Some(&mock_of(Some(json!({"StatusCode": "200"})), false)),
                    false,
                    &config,
                    true,
                ),
                "'StatusCode' must be a number",
            ),
        ];
        for (got, want) in cases {
            let got = message(got.expect_err(want));
            assert!(got.contains(want), "{got} ≠ {want}");
        }
        let config = StateConfiguration {
            map_iteration_failure_count: Some(3),
            ..StateConfiguration::default()
        };
        let got = mock(
            &map,
            Some(&mock_of(Some(json!([1, 1])), false)),
            false,
            &config,
            true,
        );
        assert!(message(got.expect_err("too many failures")).contains("less than or equal"));
        let got = mock(&map, None, false, &config, true);
        assert!(matches!(got, Err(ApiError::InvalidDefinition(_))));
        for resource in [
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "arn:aws:states:::states:startExecution.sync:2",
            "arn:aws:states:us-east-1:111111111111:activity:a",
        ] {
            let waiting = json!({"Type": "Task", "Resource": resource});
            let none = StateConfiguration::default();
            let got = mock(&waiting, None, false, &none, true);
            assert!(
                matches!(got, Err(ApiError::InvalidDefinition(_))),
                "{resource}"
            );
            let mocked = mock(
                &waiting,
                Some(&mock_of(Some(json!({})), false)),
                false,
                &none,
                true,
            );
            assert!(mocked.is_ok(), "{resource} with a mock");
        }
        let config = StateConfiguration {
            error_caused_by_state: Some("Elsewhere".into()),
            ..StateConfiguration::default()
        };
        let got = mock(&parallel, Some(&mock_of(None, true)), false, &config, true);
        assert!(message(got.expect_err("not inside")).contains("errorCausedByState 'Elsewhere'"));
        let ok = mock(
            &map,
            Some(&mock_of(Some(json!([1, 1, 1])), false)),
            false,
            &StateConfiguration::default(),
            true,
        );
        assert_eq!(
            ok.expect("valid").expect("a mock").expect("a result"),
            json!([1, 1, 1])
        );
    }

    #[test]
    fn context_objects_are_checked() {
        let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"});
        let callback = json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken"});
        let cases = [
            (json!({"Pokedex": {}}), "Field 'Pokedex' is not allowed"),
            (
                json!({"Execution": {"pokemon": 1}}),
                "Field 'pokemon' is not allowed",
            ),
            (
                json!({"Execution": {"Id": 1}}),
                "Execution.Id must be a string",
            ),
            (json!({"Map": {}}), "'Map' field is not supported"),
            (
                json!({"Task": {"Token": "t"}}),
                "Context object contains 'Task'",
            ),
            (json!([]), "must be a JSON object"),
        ];
        for (value, want) in cases {
            let got = message(context(&task, &value).expect_err(want));
            assert!(got.contains(want), "{got} ≠ {want}");
        }
        context(
            &callback,
            &json!({"Task": {"Token": "t"}, "State": {"RetryCount": 0}}),
        )
        .expect("valid");
        context(&task, &json!({})).expect("empty is valid");
    }
}

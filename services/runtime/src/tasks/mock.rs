//! Mocked tasks for local testing, in Step Functions Local's mock configuration format:
//!
//! ```json
//! {"StateMachines": {"Orders": {"TestCases": {"HappyPath": {"Charge": "ChargeOk"}}}},
//!  "MockedResponses": {"ChargeOk": {"0": {"Throw": {"Error": "Busy", "Cause": "try again"}},
//!                                   "1-2": {"Return": {"StatusCode": 200}}}}}
//! ```
//!
//! A test case maps state names to mocked responses; a mocked response maps invocation
//! numbers (`"0"`, or a range `"1-2"`) of that state to a `Return` (the task's result) or a
//! `Throw` (`Error` and `Cause`). Invocations count per state name across the execution
//! (retries and Map iterations included). States the test case does not name go to the
//! fallback handler (the real integrations), as Step Functions Local calls the real service.

use asl::{ErrorName, StatesError, TaskHandler, TaskRequest};
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Deserialize)]
struct MockFile {
    #[serde(rename = "StateMachines", default)]
    state_machines: BTreeMap<String, MockMachine>,
    #[serde(rename = "MockedResponses", default)]
    mocked_responses: BTreeMap<String, BTreeMap<String, MockResponse>>,
}

#[derive(Deserialize)]
struct MockMachine {
    #[serde(rename = "TestCases", default)]
    test_cases: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
enum MockResponse {
    Return(Value),
    Throw {
        #[serde(rename = "Error")]
        error: String,
        #[serde(rename = "Cause", default)]
        cause: Option<String>,
    },
}

/// A state's mocked response: its name and the invocation ranges it answers.
type Mocked = (String, Vec<(u64, u64, MockResponse)>);

/// A task handler that answers by state name from a mock configuration's test case.
pub struct MockTasks {
    states: HashMap<String, Mocked>,
    calls: Mutex<HashMap<String, u64>>,
    fallback: Option<Arc<dyn TaskHandler>>,
}

impl MockTasks {
    /// Reads `path` and picks `test_case` of `state_machine` (or of the one state machine
    /// that has such a test case).
    pub fn load(
        path: &std::path::Path,
        state_machine: Option<&str>,
        test_case: &str,
        fallback: Option<Arc<dyn TaskHandler>>,
    ) -> Result<MockTasks, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the mock configuration {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("the mock configuration {} is not JSON: {e}", path.display()))?;
        MockTasks::from_json(value, state_machine, test_case, fallback)
    }

    /// As `load`, from the parsed file.
    pub fn from_json(
        config: Value,
        state_machine: Option<&str>,
        test_case: &str,
        fallback: Option<Arc<dyn TaskHandler>>,
    ) -> Result<MockTasks, String> {
        let file: MockFile = serde_json::from_value(config)
            .map_err(|e| format!("the mock configuration is not valid: {e}"))?;
        let having: Vec<&String> = file
            .state_machines
            .iter()
            .filter(|(_, m)| m.test_cases.contains_key(test_case))
            .map(|(name, _)| name)
            .collect();
        let machine = match state_machine {
            Some(name) if having.iter().any(|h| *h == name) => name.to_owned(),
            _ if having.len() == 1 => having[0].clone(),
            Some(name) if having.is_empty() => {
                return Err(format!(
                    "no state machine in the mock configuration has the test case '{test_case}' (looked for '{name}')"
                ))
            }
            None if having.is_empty() => {
                return Err(format!(
                    "no state machine in the mock configuration has the test case '{test_case}'"
                ))
            }
            _ => {
                return Err(format!(
                    "the test case '{test_case}' is in several state machines ({}); name one",
                    having
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        };
        let case = &file.state_machines[&machine].test_cases[test_case];
        let mut states = HashMap::new();
        for (state, response_name) in case {
            let responses = file.mocked_responses.get(response_name).ok_or_else(|| {
                format!("the state '{state}' uses the mocked response '{response_name}', which is not defined")
            })?;
            let mut ranges = Vec::new();
            for (key, response) in responses {
                let (from, to) = parse_range(key).ok_or_else(|| {
                    format!("the mocked response '{response_name}' has the key '{key}', which is not N or N-M")
                })?;
                ranges.push((from, to, response.clone()));
            }
            ranges.sort_by_key(|(from, _, _)| *from);
            states.insert(state.clone(), (response_name.clone(), ranges));
        }
        Ok(MockTasks {
            states,
            calls: Mutex::default(),
            fallback,
        })
    }

    /// The response for the next invocation of `state`, if the test case mocks it.
    fn next(&self, state: &str) -> Option<Result<Value, StatesError>> {
        let (name, ranges) = self.states.get(state)?;
        let call = {
            let mut calls = self.calls.lock().expect("never poisoned");
            let count = calls.entry(state.to_owned()).or_insert(0);
            let call = *count;
            *count += 1;
            call
        };
        let response = ranges
            .iter()
            .find(|(from, to, _)| (*from..=*to).contains(&call))
            .map(|(_, _, r)| r);
        Some(match response {
            Some(MockResponse::Return(value)) => Ok(value.clone()),
            Some(MockResponse::Throw { error, cause }) => Err(StatesError {
                name: ErrorName::parse(error),
                cause: cause.clone(),
            }),
            None => Err(StatesError::new(
                ErrorName::Custom("Quickstep.MockExhausted".into()),
                format!(
                    "The mocked response '{name}' has no answer for invocation {call} of the state '{state}'"
                ),
            )),
        })
    }
}

fn parse_range(key: &str) -> Option<(u64, u64)> {
    match key.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (from.trim().parse().ok()?, to.trim().parse().ok()?);
            (from <= to).then_some((from, to))
        }
        None => key.trim().parse().ok().map(|n| (n, n)),
    }
}

impl TaskHandler for MockTasks {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            if let Some(answer) = self.next(request.state_name) {
                return answer;
            }
            match &self.fallback {
                Some(fallback) => fallback.invoke(request).await,
                None => Err(StatesError::new(
                    ErrorName::TaskFailed,
                    format!(
                        "The test case mocks no response for the state '{}'",
                        request.state_name
                    ),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0"), Some((0, 0)));
        assert_eq!(parse_range("1-2"), Some((1, 2)));
        assert_eq!(parse_range("2-1"), None);
        assert_eq!(parse_range("x"), None);
    }
}

//! The AWS JSON 1.0 protocol as Step Functions speaks it: `POST /` with
//! `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON body; answers are
//! `application/x-amz-json-1.0`, errors `{"__type": "...", "message": "..."}` with the
//! type repeated in `x-amzn-ErrorType`. Every failure of every handler is one `ApiError`.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The content type of every request and answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The service prefix of `X-Amz-Target`.
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";

/// The operations this gateway answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// CreateStateMachine.
    CreateStateMachine,
    /// DescribeStateMachine.
    DescribeStateMachine,
    /// UpdateStateMachine.
    UpdateStateMachine,
    /// DeleteStateMachine.
    DeleteStateMachine,
    /// ListStateMachines.
    ListStateMachines,
    /// ValidateStateMachineDefinition.
    ValidateStateMachineDefinition,
    /// StartExecution.
    StartExecution,
    /// StartSyncExecution.
    StartSyncExecution,
    /// TestState.
    TestState,
    /// SendTaskSuccess.
    SendTaskSuccess,
    /// SendTaskFailure.
    SendTaskFailure,
    /// SendTaskHeartbeat.
    SendTaskHeartbeat,
    /// ListExecutions (from the execution store).
    ListExecutions,
    /// DescribeExecution (from the execution store).
    DescribeExecution,
    /// GetExecutionHistory (from the execution store).
    GetExecutionHistory,
    /// DescribeStateMachineForExecution.
    DescribeStateMachineForExecution,
}

/// Every operation with its wire name: the one table `parse` and `as_str` read.
const OPERATIONS: &[(Operation, &str)] = &[
    (Operation::CreateStateMachine, "CreateStateMachine"),
    (Operation::DescribeStateMachine, "DescribeStateMachine"),
    (Operation::UpdateStateMachine, "UpdateStateMachine"),
    (Operation::DeleteStateMachine, "DeleteStateMachine"),
    (Operation::ListStateMachines, "ListStateMachines"),
    (
        Operation::ValidateStateMachineDefinition,
        "ValidateStateMachineDefinition",
    ),
    (Operation::StartExecution, "StartExecution"),
    (Operation::StartSyncExecution, "StartSyncExecution"),
    (Operation::TestState, "TestState"),
    (Operation::SendTaskSuccess, "SendTaskSuccess"),
    (Operation::SendTaskFailure, "SendTaskFailure"),
    (Operation::SendTaskHeartbeat, "SendTaskHeartbeat"),
    (Operation::ListExecutions, "ListExecutions"),
    (Operation::DescribeExecution, "DescribeExecution"),
    (Operation::GetExecutionHistory, "GetExecutionHistory"),
    (
        Operation::DescribeStateMachineForExecution,
        "DescribeStateMachineForExecution",
    ),
];

impl Operation {
    /// Every operation, in the order of the wire table (the fuzz target picks among them).
    pub fn all() -> impl Iterator<Item = Operation> {
        OPERATIONS.iter().map(|(op, _)| *op)
    }

    /// Reads `AWSStepFunctions.<Operation>`.
    pub fn from_target(target: &str) -> Result<Operation, ApiError> {
        let unknown = || ApiError::UnknownOperation(format!("Unknown operation '{target}'"));
        let name = target.strip_prefix(TARGET_PREFIX).ok_or_else(unknown)?;
        OPERATIONS
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(op, _)| *op)
            .ok_or_else(unknown)
    }

    /// The wire name (also the metric label).
    pub fn as_str(self) -> &'static str {
        OPERATIONS
            .iter()
            .find(|(op, _)| *op == self)
            .map(|(_, n)| *n)
            .unwrap_or("Unknown")
    }
}

/// Every error the API answers, with AWS's `__type` names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The state machine is not registered.
    #[error("{0}")]
    StateMachineDoesNotExist(String),
    /// The execution is not in the execution store.
    #[error("{0}")]
    ExecutionDoesNotExist(String),
    /// A different state machine of that name exists.
    #[error("{0}")]
    StateMachineAlreadyExists(String),
    /// Only EXPRESS is supported.
    #[error("{0}")]
    StateMachineTypeNotSupported(String),
    /// The definition fails validation.
    #[error("{0}")]
    InvalidDefinition(String),
    /// The execution input is not JSON or too large.
    #[error("{0}")]
    InvalidExecutionInput(String),
    /// An ARN is malformed or of the wrong kind.
    #[error("{0}")]
    InvalidArn(String),
    /// A name breaks the naming rules.
    #[error("{0}")]
    InvalidName(String),
    /// A logging configuration is malformed.
    #[error("{0}")]
    InvalidLoggingConfiguration(String),
    /// A pagination or task token is not one this gateway issued.
    #[error("{0}")]
    InvalidToken(String),
    /// A callback's output is not JSON or too large.
    #[error("{0}")]
    InvalidOutput(String),
    /// A callback names a task that already ended.
    #[error("{0}")]
    TaskTimedOut(String),
    /// A parameter is missing, of the wrong type, or out of range.
    #[error("{0}")]
    Validation(String),
    /// Too many requests at once.
    #[error("{0}")]
    Throttling(String),
    /// The target names no operation.
    #[error("{0}")]
    UnknownOperation(String),
    /// The body is not the JSON the operation takes.
    #[error("{0}")]
    Serialization(String),
    /// The body is larger than the gateway accepts.
    #[error("{0}")]
    RequestTooLarge(String),
    /// The body did not arrive within the body read timeout.
    #[error("{0}")]
    RequestTimeout(String),
    /// No signature where one is required.
    #[error("{0}")]
    MissingAuthenticationToken(String),
    /// The signature is malformed.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key is not configured.
    #[error("{0}")]
    UnrecognizedClient(String),
    /// The signature does not match.
    #[error("{0}")]
    InvalidSignature(String),
    /// Kafka or another dependency failed.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// AWS's `__type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ApiError::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            ApiError::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            ApiError::StateMachineAlreadyExists(_) => "StateMachineAlreadyExists",
            ApiError::StateMachineTypeNotSupported(_) => "StateMachineTypeNotSupported",
            ApiError::InvalidDefinition(_) => "InvalidDefinition",
            ApiError::InvalidExecutionInput(_) => "InvalidExecutionInput",
            ApiError::InvalidArn(_) => "InvalidArn",
            ApiError::InvalidName(_) => "InvalidName",
            ApiError::InvalidLoggingConfiguration(_) => "InvalidLoggingConfiguration",
            ApiError::InvalidToken(_) => "InvalidToken",
            ApiError::InvalidOutput(_) => "InvalidOutput",
            ApiError::TaskTimedOut(_) => "TaskTimedOut",
            ApiError::Validation(_) => "ValidationException",
            ApiError::Throttling(_) => "ThrottlingException",
            ApiError::UnknownOperation(_) => "UnknownOperationException",
            ApiError::Serialization(_) => "SerializationException",
            ApiError::RequestTooLarge(_) => "RequestEntityTooLargeException",
            ApiError::RequestTimeout(_) => "RequestTimeoutException",
            ApiError::MissingAuthenticationToken(_) => "MissingAuthenticationTokenException",
            ApiError::IncompleteSignature(_) => "IncompleteSignatureException",
            ApiError::UnrecognizedClient(_) => "UnrecognizedClientException",
            ApiError::InvalidSignature(_) => "InvalidSignatureException",
            ApiError::Internal(_) => "InternalFailure",
        }
    }

    /// The HTTP status AWS answers it with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingAuthenticationToken(_) | ApiError::InvalidSignature(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The answer's body.
    pub fn body(&self) -> Value {
        serde_json::json!({"__type": self.type_name(), "message": self.to_string()})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.type_name()),
        );
        response
    }
}

/// A successful answer.
pub fn ok(body: Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// A successful answer written straight from the output's shape, with no `serde_json::Value`
/// in between (StartExecution and StartSyncExecution answer this way on every request).
pub fn ok_with<T: Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
            response
        }
        Err(error) => ApiError::Internal(error.to_string()).into_response(),
    }
}

/// The operation a request names, checked before anything else is read.
pub fn operation(headers: &HeaderMap) -> Result<Operation, ApiError> {
    let target = headers
        .get("x-amz-target")
        .ok_or_else(|| ApiError::UnknownOperation("Missing X-Amz-Target header".into()))?
        .to_str()
        .map_err(|_| ApiError::UnknownOperation("X-Amz-Target is not text".into()))?;
    Operation::from_target(target)
}

/// Parses a request body as the operation's input. An empty body is `{}`; anything but a
/// JSON object is a SerializationException, and a field of the wrong shape names itself.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // The usual request in one pass: an object of the operation's shape. Anything else (and
    // an object serde reads differently as a struct, such as one with a repeated field) takes
    // the path below, which names the problem as before.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        if let Ok(input) = serde_json::from_slice(body) {
            return Ok(input);
        }
    }
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::Serialization(format!("The request is not valid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(ApiError::Serialization(
            "The request body must be a JSON object".into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| ApiError::Serialization(shape_message(&e)))
}

fn shape_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null");
    }
    format!("The request does not match the operation's shape: {text}")
}

/// Epoch milliseconds as AWS JSON renders a timestamp: seconds, as a number.
pub fn epoch_seconds(ms: i64) -> Value {
    let seconds = ms as f64 / 1000.0;
    serde_json::Number::from_f64(seconds)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// AWS's naming rule for state machines and executions: 1–80 characters, none of
/// whitespace, `<>{}[]?*"#%\^|~`$&,;:/` or control characters.
pub fn valid_name(name: &str) -> bool {
    (1..=80).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            Operation::from_target("AWSStepFunctions.StartSyncExecution"),
            Ok(Operation::StartSyncExecution)
        );
        for (op, name) in OPERATIONS {
            assert_eq!(
                Operation::from_target(&format!("{TARGET_PREFIX}{name}")),
                Ok(*op)
            );
            assert_eq!(op.as_str(), *name);
        }
        assert!(matches!(
            Operation::from_target("AWSStepFunctions.Nope"),
            Err(ApiError::UnknownOperation(_))
        ));
        assert!(matches!(
            Operation::from_target("StartExecution"),
            Err(ApiError::UnknownOperation(_))
        ));
    }

    #[test]
    fn errors_are_aws_shaped() {
        let error = ApiError::StateMachineDoesNotExist("State Machine Does Not Exist: 'x'".into());
        assert_eq!(
            error.body(),
            serde_json::json!({"__type": "StateMachineDoesNotExist", "message": "State Machine Does Not Exist: 'x'"})
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn bodies_parse_or_name_the_problem() {
        #[derive(serde::Deserialize, Debug)]
        struct In {
            name: String,
        }
        assert!(parse::<In>(b"{\"name\":\"a\"}").is_ok());
        assert!(parse::<In>(b" {\"name\":\"a\", \"other\": [1]}").is_ok());
        // A struct reads a JSON array too; the API does not.
        assert!(matches!(
            parse::<In>(b"[\"a\"]"),
            Err(ApiError::Serialization(_))
        ));
        // A repeated field: the last wins, as before the one-pass path.
        assert_eq!(
            parse::<In>(b"{\"name\":\"a\",\"name\":\"b\"}")
                .map(|i| i.name)
                .ok()
                .as_deref(),
            Some("b")
        );
        assert!(matches!(
            parse::<In>(b"{\"name\": 1}"),
            Err(ApiError::Serialization(_))
        ));
        assert!(matches!(
            parse::<In>(b"[1]"),
            Err(ApiError::Serialization(_))
        ));
        assert!(matches!(parse::<In>(b"{"), Err(ApiError::Serialization(_))));
        let missing = parse::<In>(b"").expect_err("name is required");
        assert!(missing.to_string().contains("'name'"));
    }

    #[test]
    fn timestamps_are_epoch_seconds() {
        assert_eq!(
            epoch_seconds(1_700_000_000_123).to_string(),
            "1700000000.123"
        );
    }

    #[test]
    fn names() {
        assert!(valid_name("order-1_A"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a:b"));
        assert!(!valid_name(&"x".repeat(81)));
    }
}

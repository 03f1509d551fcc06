//! SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat. A token held by one of this
//! gateway's own sync executions is answered here; any other goes to the callbacks topic
//! (keyed by token) as the worker's `CallbackMessage`, for the worker that holds it.
//! A token the deployment's keys did not sign is InvalidToken before anything else happens:
//! no look-up, and nothing reaches the topic.

use crate::protocol::{self, ApiError, Operation};
use crate::publish::Record;
use crate::Gateway;
use asl::interpret::PAYLOAD_LIMIT_BYTES;
use axum::response::Response;
use runtime::tasks::callback::{CallbackError, CallbackMessage};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallbackInput {
    task_token: String,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
}

/// The largest task token AWS accepts.
const TOKEN_LIMIT: usize = 2048;

/// One of the three callbacks, by operation.
pub async fn send(
    gateway: &Gateway,
    operation: Operation,
    body: &[u8],
) -> Result<Response, ApiError> {
    let input: CallbackInput = protocol::parse(body)?;
    if input.task_token.is_empty() || input.task_token.len() > TOKEN_LIMIT {
        return Err(ApiError::InvalidToken(format!(
            "Invalid Token: 'Task token must be 1 to {TOKEN_LIMIT} characters'"
        )));
    }
    // AWS names no reason beyond the token being invalid; neither does this answer.
    if gateway.callbacks.keys().verify(&input.task_token).is_err() {
        return Err(ApiError::InvalidToken("Invalid Token".into()));
    }
    let message = match operation {
        Operation::SendTaskSuccess => {
            let output = input.output.ok_or_else(|| {
                ApiError::Validation("1 validation error detected: Value null at 'output' failed to satisfy constraint: Member must not be null".into())
            })?;
            if output.len() > PAYLOAD_LIMIT_BYTES {
                return Err(ApiError::InvalidOutput(format!(
                    "The output of {} bytes exceeds the maximum of {PAYLOAD_LIMIT_BYTES} bytes",
                    output.len()
                )));
            }
            serde_json::from_str::<Value>(&output)
                .map_err(|e| ApiError::InvalidOutput(format!("Invalid Output: '{e}'")))?;
            CallbackMessage::SendTaskSuccess {
                task_token: input.task_token,
                output,
            }
        }
        Operation::SendTaskFailure => CallbackMessage::SendTaskFailure {
            task_token: input.task_token,
            error: input.error,
            cause: input.cause,
        },
        _ => CallbackMessage::SendTaskHeartbeat {
            task_token: input.task_token,
        },
    };
    match gateway.callbacks.deliver(&message) {
        Ok(()) => return Ok(protocol::ok(json!({}))),
        Err(CallbackError::TaskTimedOut) => {
            return Err(ApiError::TaskTimedOut(
                "Task Timed Out: 'Provided task does not exist anymore'".into(),
            ))
        }
        Err(CallbackError::InvalidOutput(message)) => return Err(ApiError::InvalidOutput(message)),
        // Not one of ours: the worker that holds it reads the callbacks topic.
        Err(_) => {}
    }
    let payload = serde_json::to_vec(&message).expect("a callback message serializes");
    gateway
        .publisher
        .publish(Record {
            topic: gateway.config.callbacks_topic.clone(),
            key: message.token().to_owned(),
            payload: Some(payload),
            headers: Vec::new(),
        })
        .await
        .map_err(ApiError::Internal)?;
    Ok(protocol::ok(json!({})))
}

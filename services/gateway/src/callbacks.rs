//! SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat. The execution waiting on a task
//! token runs in some worker; the gateway does not know which, so it produces the callback
//! to the callbacks topic (keyed by token) for the workers to route:
//! `{"token", "kind": "success"|"failure"|"heartbeat", "output" | "error", "cause"}`.

use crate::protocol::{self, ApiError, Operation};
use crate::publish::Record;
use crate::Gateway;
use asl::interpret::PAYLOAD_LIMIT_BYTES;
use axum::response::Response;
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
            let output: Value = serde_json::from_str(&output)
                .map_err(|e| ApiError::InvalidOutput(format!("Invalid Output: '{e}'")))?;
            json!({"token": input.task_token, "kind": "success", "output": output})
        }
        Operation::SendTaskFailure => {
            let mut message = json!({"token": input.task_token, "kind": "failure"});
            if let Some(error) = input.error {
                message["error"] = error.into();
            }
            if let Some(cause) = input.cause {
                message["cause"] = cause.into();
            }
            message
        }
        _ => json!({"token": input.task_token, "kind": "heartbeat"}),
    };
    gateway
        .publisher
        .publish(Record {
            topic: gateway.config.callbacks_topic.clone(),
            key: input.task_token,
            payload: Some(message.to_string().into_bytes()),
            headers: Vec::new(),
        })
        .await
        .map_err(ApiError::Internal)?;
    Ok(protocol::ok(json!({})))
}

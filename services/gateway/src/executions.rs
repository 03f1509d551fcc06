//! StartExecution (a start record on Kafka: at-least-once, like AWS's asynchronous Express)
//! and StartSyncExecution (run here, answered with the result: at-most-once, like AWS's
//! synchronous Express), on the same engine, integrations, history and metrics as a worker.

use crate::protocol::{self, epoch_seconds, ApiError, Operation};
use crate::publish::Record;
use crate::state_machines::machine_name;
use crate::Gateway;
use asl::interpret::PAYLOAD_LIMIT_BYTES;
use asl::Status;
use axum::http::HeaderMap;
use axum::response::Response;
use runtime::execute::ExecutionRequest;
use runtime::kafka::{HEADER_EXECUTION_NAME, HEADER_STATE_MACHINE, HEADER_TRACEPARENT};
use runtime::registry::Revision;
use runtime::result::execution_result;
use runtime::sinks::HistoryBatch;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartInput {
    state_machine_arn: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    trace_header: Option<String>,
}

/// What both start operations check first: the state machine, its start rate, the name,
/// the input.
struct Start {
    revision: Arc<Revision>,
    name: String,
    input_text: String,
    input: Value,
}

async fn prepare(gateway: &Gateway, input: StartInput) -> Result<Start, ApiError> {
    let machine = machine_name(&input.state_machine_arn)?;
    let revision = gateway
        .second_look(|| gateway.registry().get(machine))
        .await
        .ok_or_else(|| crate::state_machines::does_not_exist(&input.state_machine_arn))?;
    // Before the input is parsed: a throttled start should cost as little as possible.
    gateway.start_token(&revision.name)?;
    let name = match input.name {
        Some(name) if !protocol::valid_name(&name) => {
            return Err(ApiError::InvalidName(format!("Invalid Name: '{name}'")))
        }
        Some(name) => name,
        None => gateway.uuid(),
    };
    let input_text = input.input.unwrap_or_else(|| "{}".to_owned());
    if input_text.len() > PAYLOAD_LIMIT_BYTES {
        return Err(ApiError::InvalidExecutionInput(format!(
            "The input of {} bytes exceeds the maximum of {PAYLOAD_LIMIT_BYTES} bytes",
            input_text.len()
        )));
    }
    let input: Value = serde_json::from_str(&input_text).map_err(|e| {
        ApiError::InvalidExecutionInput(format!("Invalid State Machine Execution Input: '{e}'"))
    })?;
    Ok(Start {
        revision,
        name,
        input_text,
        input,
    })
}

/// The caller's W3C trace context, if it sent one.
fn caller_traceparent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(HEADER_TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// StartExecution: produces `{input}` to the start topic keyed by the execution name (the
/// idempotency key), with the state machine, the name and a traceparent as headers.
pub async fn start(
    gateway: &Gateway,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let input: StartInput = protocol::parse(body)?;
    let trace_header = input.trace_header.clone();
    let start = prepare(gateway, input).await?;
    let traceparent = caller_traceparent(headers).unwrap_or_else(|| gateway.traceparent());
    let mut record_headers = vec![
        (HEADER_STATE_MACHINE.to_owned(), start.revision.name.clone()),
        (HEADER_EXECUTION_NAME.to_owned(), start.name.clone()),
        (HEADER_TRACEPARENT.to_owned(), traceparent),
    ];
    if let Some(trace) = trace_header {
        record_headers.push(("x-amzn-trace-id".to_owned(), trace));
    }
    let started = crate::state_machines::now_ms();
    gateway
        .publisher
        .publish(Record {
            topic: gateway.config.start_topic.clone(),
            key: start.name.clone(),
            payload: Some(start.input_text.into_bytes()),
            headers: record_headers,
        })
        .await
        .map_err(ApiError::Internal)?;
    Ok(protocol::ok_with(&StartAnswer {
        execution_arn: gateway
            .registry()
            .execution_arn(&start.revision.name, &start.name),
        start_date: epoch_seconds(started),
    }))
}

/// StartSyncExecution: runs to the end here, on the runtime's executor as a worker would
/// (continuing the caller's `traceparent`), and answers AWS's full response.
pub async fn start_sync(
    gateway: &Gateway,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let input: StartInput = protocol::parse(body)?;
    let start = prepare(gateway, input).await?;
    let _slot = gateway.sync_slot(Operation::StartSyncExecution)?;
    let mut request = ExecutionRequest {
        execution_arn: gateway
            .registry()
            .execution_arn(&start.revision.name, &start.name),
        revision: start.revision.clone(),
        input: start.input,
        name: start.name,
        traceparent: caller_traceparent(headers),
        attempt: 1,
    };
    let finished = gateway.executor.execute(&mut request).await;
    let status = finished.outcome.status;
    gateway
        .metrics
        .sync_executions
        .with_label_values(&[&start.revision.name, status.as_str()])
        .inc();
    let execution_arn = request.execution_arn.clone();
    let result = execution_result(&mut request, finished.outcome);
    // Like a worker's, the result and the history go to Kafka, so every replica's execution
    // store sees sync executions too. At most once: a failure is logged, not retried into the
    // answer, so the answer does not wait for the result's acknowledgement either (only for
    // room in the producer's queue); the history is enqueued before it is awaited.
    let history = async {
        match (&gateway.history, finished.history.is_empty()) {
            (Some(sink), false) => {
                let batch = HistoryBatch {
                    execution_arn: &execution_arn,
                    attempt: finished.attempt,
                    events: &finished.history,
                };
                sink.write(batch).await
            }
            _ => Ok(()),
        }
    };
    let published = gateway.publisher.enqueue(Record {
        topic: gateway.config.results_topic.clone(),
        key: result.name.clone(),
        payload: Some(
            result
                .to_json_bytes()
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        ),
        headers: Vec::new(),
    });
    let (history, published) = futures::join!(history, published);
    if let Err(error) = history {
        tracing::warn!(message = "History of a sync execution not written.", %error, %execution_arn);
    }
    if let Err(error) = published {
        tracing::warn!(message = "Result of a sync execution not published.", %error, %execution_arn);
    }
    let billing = result.billing_details.unwrap_or_default();
    let succeeded = status == Status::Succeeded;
    let output = succeeded.then(|| result.output.as_deref().unwrap_or("null"));
    Ok(protocol::ok_with(&SyncAnswer {
        execution_arn: &result.execution_arn,
        state_machine_arn: &result.state_machine_arn,
        name: &result.name,
        start_date: seconds(result.start_date),
        stop_date: seconds(result.stop_date),
        status: status.as_str(),
        input: &start.input_text,
        input_details: Included { included: true },
        billing_details: Billing {
            billed_memory_used_in_mb: billing.billed_memory_used_in_mb,
            billed_duration_in_milliseconds: billing.billed_duration_in_milliseconds,
        },
        output,
        output_details: succeeded.then_some(Included { included: true }),
        error: result.error.as_deref(),
        cause: result.cause.as_deref(),
    }))
}

/// StartExecution's answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StartAnswer {
    execution_arn: String,
    start_date: Value,
}

/// StartSyncExecution's answer, in AWS's field order; `output` only when it succeeded,
/// `error` and `cause` only when there are some.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncAnswer<'a> {
    execution_arn: &'a str,
    state_machine_arn: &'a str,
    name: &'a str,
    start_date: Value,
    stop_date: Value,
    status: &'a str,
    input: &'a str,
    input_details: Included,
    billing_details: Billing,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_details: Option<Included>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a str>,
}

#[derive(Serialize)]
struct Included {
    included: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Billing {
    #[serde(rename = "billedMemoryUsedInMB")]
    billed_memory_used_in_mb: u32,
    billed_duration_in_milliseconds: u32,
}

/// A result timestamp as the API's epoch seconds.
fn seconds(timestamp: Option<quickstep_proto::wkt::Timestamp>) -> Value {
    let timestamp = timestamp.unwrap_or_default();
    epoch_seconds(timestamp.seconds * 1000 + i64::from(timestamp.nanos / 1_000_000))
}

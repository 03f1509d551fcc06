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
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use worker::admit::{Job, HEADER_EXECUTION_NAME, HEADER_STATE_MACHINE};
use worker::idempotency::RecordId;
use worker::registry::Revision;
use worker::source::SourceRecord;

/// Express bills memory in 64 MB units and duration in 100 ms steps.
const BILLED_MEMORY_MB: u64 = 64;
const BILLING_STEP_MS: i64 = 100;

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

fn prepare(gateway: &Gateway, input: StartInput) -> Result<Start, ApiError> {
    let machine = machine_name(&input.state_machine_arn)?;
    let revision = gateway.catalog.registry().get(machine).ok_or_else(|| {
        ApiError::StateMachineDoesNotExist(format!(
            "State Machine Does Not Exist: '{}'",
            input.state_machine_arn
        ))
    })?;
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

fn execution_arn(gateway: &Gateway, machine: &str, name: &str) -> String {
    // The worker names the executions it runs the same way.
    format!(
        "arn:aws:states:{}:{}:express:{machine}:{name}",
        gateway.config.region, gateway.config.account
    )
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
    let start = prepare(gateway, input)?;
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| gateway.traceparent());
    let mut record_headers = vec![
        (HEADER_STATE_MACHINE.to_owned(), start.revision.name.clone()),
        (HEADER_EXECUTION_NAME.to_owned(), start.name.clone()),
        ("traceparent".to_owned(), traceparent),
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
    Ok(protocol::ok(json!({
        "executionArn": execution_arn(gateway, &start.revision.name, &start.name),
        "startDate": epoch_seconds(started),
    })))
}

/// StartSyncExecution: runs to the end here and answers AWS's full response.
pub async fn start_sync(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: StartInput = protocol::parse(body)?;
    let start = prepare(gateway, input)?;
    let _slot = gateway.sync_slot(Operation::StartSyncExecution)?;
    let execution_arn = execution_arn(gateway, &start.revision.name, &start.name);
    let job = Box::new(Job {
        record: SourceRecord {
            id: RecordId::new("gateway", 0, 0),
            key: None,
            payload: None,
            headers: Vec::new(),
            timestamp_ms: None,
        },
        revision: start.revision.clone(),
        input: start.input,
        name: start.name.clone(),
        execution_arn: execution_arn.clone(),
        idempotency_key: start.name.clone(),
        claim: None,
    });
    let finished = gateway.executor.execute(job).await;
    let outcome = &finished.outcome;
    gateway
        .metrics
        .sync_executions
        .with_label_values(&[&start.revision.name, outcome.status.as_str()])
        .inc();
    if let (Some(sink), false) = (&gateway.history, finished.history.is_empty()) {
        // At most once: a history sink failure is logged, not retried into the answer.
        if let Err(error) = sink.write(&execution_arn, &finished.history).await {
            tracing::warn!(message = "History of a sync execution not written.", %error, %execution_arn);
        }
    }
    let duration_ms = (outcome.stop_ms - outcome.start_ms).max(1);
    let billed_ms = (duration_ms + BILLING_STEP_MS - 1) / BILLING_STEP_MS * BILLING_STEP_MS;
    let mut answer = json!({
        "executionArn": execution_arn,
        "stateMachineArn": start.revision.arn,
        "name": start.name,
        "startDate": epoch_seconds(outcome.start_ms),
        "stopDate": epoch_seconds(outcome.stop_ms),
        "status": outcome.status.as_str(),
        "input": start.input_text,
        "inputDetails": {"included": true},
        "billingDetails": {
            "billedMemoryUsedInMB": BILLED_MEMORY_MB,
            "billedDurationInMilliseconds": billed_ms,
        },
    });
    if outcome.status == Status::Succeeded {
        let output = outcome
            .output
            .as_ref()
            .map(asl::json_text)
            .unwrap_or_else(|| "null".into());
        answer["output"] = output.into();
        answer["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = &outcome.error {
        answer["error"] = error.clone().into();
    }
    if let Some(cause) = &outcome.cause {
        answer["cause"] = cause.clone().into();
    }
    Ok(protocol::ok(answer))
}

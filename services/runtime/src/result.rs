//! The result of an execution as Quickstep publishes it and StartSyncExecution answers it:
//! `quickstep.v1.ExecutionResult` (proto/), with AWS's billing rule for Express. Every runner
//! builds its result here, so the ARN, the status and the billing agree on every path.

use crate::execute::ExecutionRequest;
use asl::{Outcome, Status};
use quickstep_proto::v1::execution_result as result;
use quickstep_proto::v1::{BillingDetails, ExecutionResult};
use quickstep_proto::wkt::Timestamp;

/// Express bills memory in 64 MB units.
pub const BILLED_MEMORY_MB: u32 = 64;
/// Express bills duration in 100 ms steps, at least one.
pub const BILLING_STEP_MS: i64 = 100;

/// The billed duration of a run from `start_ms` to `stop_ms`: rounded up to the step.
pub fn billed_duration_ms(start_ms: i64, stop_ms: i64) -> i64 {
    let duration_ms = (stop_ms - start_ms).max(1);
    (duration_ms + BILLING_STEP_MS - 1) / BILLING_STEP_MS * BILLING_STEP_MS
}

/// The result of `request` that ended in `outcome`. Takes the request's name and ARN (the
/// result owns them from here on) rather than copying them; the caller adds what only it
/// knows (the idempotency key, the source record).
pub fn execution_result(request: &mut ExecutionRequest, outcome: Outcome) -> ExecutionResult {
    let (status, output) = match outcome.status {
        Status::Succeeded => (
            result::Status::Succeeded,
            outcome.output.as_ref().map(asl::json_text),
        ),
        Status::Failed => (result::Status::Failed, None),
        Status::TimedOut => (result::Status::TimedOut, None),
    };
    let billed_ms = billed_duration_ms(outcome.start_ms, outcome.stop_ms);
    ExecutionResult {
        execution_arn: std::mem::take(&mut request.execution_arn),
        state_machine_arn: request.revision.arn.clone(),
        name: std::mem::take(&mut request.name),
        status: status as i32,
        start_date: Some(timestamp(outcome.start_ms)),
        stop_date: Some(timestamp(outcome.stop_ms)),
        output,
        error: outcome.error,
        cause: outcome.cause,
        billing_details: Some(BillingDetails {
            billed_memory_used_in_mb: BILLED_MEMORY_MB,
            billed_duration_in_milliseconds: u32::try_from(billed_ms).unwrap_or(u32::MAX),
        }),
        ..ExecutionResult::default()
    }
}

/// An epoch-milliseconds instant as a protobuf timestamp.
pub fn timestamp(epoch_ms: i64) -> Timestamp {
    Timestamp {
        seconds: epoch_ms.div_euclid(1000),
        nanos: (epoch_ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_rounds_up_to_the_step_and_bills_at_least_one() {
        assert_eq!(billed_duration_ms(0, 0), 100);
        assert_eq!(billed_duration_ms(0, 100), 100);
        assert_eq!(billed_duration_ms(0, 101), 200);
        assert_eq!(billed_duration_ms(1_000, 1_250), 300);
    }

    #[test]
    fn timestamps_before_the_epoch_keep_nanos_positive() {
        let t = timestamp(-1);
        assert_eq!((t.seconds, t.nanos), (-1, 999_000_000));
    }
}

//! HeartbeatSeconds: a task that reports signs of life in time runs on; one that falls
//! silent fails with States.HeartbeatTimeout, which Catch can see.

use crate::util::START_MS;
use asl::interpret::{Clock, SplitMix64, VirtualClock};
use asl::validate::MachineType;
use asl::{ExecutionInfo, Machine, Outcome, Services, StatesError, TaskHandler, TaskRequest};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::time::Duration;

/// Works for `steps` × 2 s, beating after each step while `beats` is true.
struct Worker {
    clock: VirtualClock,
    steps: u32,
    beats: bool,
}

impl TaskHandler for Worker {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            for _ in 0..self.steps {
                self.clock.sleep(Duration::from_secs(2)).await;
                if self.beats {
                    request.heartbeat.beat(self.clock.now_ms());
                }
            }
            Ok(json!("done"))
        })
    }
}

fn run(definition: Value, beats: bool) -> Outcome {
    let machine = Machine::from_definition(&definition, MachineType::Standard).expect("valid");
    let clock = VirtualClock::new(START_MS);
    let worker = Worker {
        clock: clock.clone(),
        steps: 5,
        beats,
    };
    let rng = SplitMix64::new(1);
    let services = Services {
        tasks: &worker,
        clock: &clock,
        rng: &rng,
        tokens: &asl::interpret::CountingTokens::default(),
        history: None,
    };
    clock
        .block_on(machine.run(json!({}), &ExecutionInfo::default(), &services))
        .expect("finishes on the virtual clock")
}

fn machine(catch: bool) -> Value {
    let mut task = json!({"Type": "Task", "Resource": "arn:aws:states:::quickstep:work", "HeartbeatSeconds": 3, "End": true});
    if catch {
        task["Catch"] = json!([{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Caught"}]);
    }
    let mut states = json!({"Work": task});
    if catch {
        states["Caught"] = json!({"Type": "Pass", "End": true});
    }
    json!({"StartAt": "Work", "States": states})
}

#[test]
fn a_task_that_beats_in_time_succeeds() {
    let outcome = run(machine(false), true);
    assert_eq!(outcome.output, Some(json!("done")), "{outcome:?}");
}

#[test]
fn a_silent_task_times_out_after_heartbeat_seconds() {
    let outcome = run(machine(false), false);
    assert_eq!(
        outcome.error.as_deref(),
        Some("States.HeartbeatTimeout"),
        "{outcome:?}"
    );
    assert_eq!(outcome.stop_ms - outcome.start_ms, 3_000);
}

#[test]
fn heartbeat_timeout_is_catchable() {
    let outcome = run(machine(true), false);
    assert_eq!(
        outcome.output,
        Some(json!({"Error": "States.HeartbeatTimeout", "Cause": ""}))
    );
}

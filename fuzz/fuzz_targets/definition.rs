//! Arbitrary bytes as a state machine definition: validate the text, then (when it is
//! JSON) validate+compile, compile alone, and run what compiles on a virtual clock with a
//! small poll budget against a fixed input. Nothing here may panic or hang.
#![no_main]

use asl::interpret::{SplitMix64, VirtualClock};
use asl::validate::{self, MachineType};
use asl::{ErrorName, ExecutionInfo, Machine, Services, StatesError, TaskHandler, TaskRequest};
use futures::future::BoxFuture;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Tasks: `…:fail…` resources raise a custom error, everything else echoes its input.
struct Echo;

impl TaskHandler for Echo {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            if request.resource.contains("fail") {
                Err(StatesError::new(
                    ErrorName::Custom("Fuzz.Failure".into()),
                    "a task that always fails",
                ))
            } else {
                Ok(request.input)
            }
        })
    }
}

/// Polls the inner future at most `polls` times, then gives up with `None`.
struct Budget<F> {
    inner: Pin<Box<F>>,
    polls: u32,
}

impl<F: Future> Future for Budget<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            return Poll::Ready(None);
        }
        self.polls -= 1;
        self.inner.as_mut().poll(cx).map(Some)
    }
}

fn run(machine: &Machine) {
    let clock = VirtualClock::new(1_767_225_600_000);
    let rng = SplitMix64::new(7);
    let services = Services {
        tasks: &Echo,
        clock: &clock,
        rng: &rng,
        history: None,
    };
    let info = ExecutionInfo {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:fuzz:run".into(),
        name: "run".into(),
        role_arn: "arn:aws:iam::111111111111:role/fuzz".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:fuzz".into(),
        state_machine_name: "fuzz".into(),
        redrive_count: None,
    };
    let input = json!({
        "id": 42, "amount": 250, "name": "order", "flag": true, "none": null,
        "items": [1, 2.5, "three", {"four": 4}, [5]],
        "nested": {"a": [{"b": 1}, {"b": 2}], "s": "a,b,c"}
    });
    let budget = Budget {
        inner: Box::pin(machine.run(input, &info, &services)),
        // A poll per transition (the state loop yields after each): enough for every corpus
        // machine, and small enough that a loop growing its data each turn (quadratic work)
        // stays fast.
        polls: 500,
    };
    if let Some(Some(outcome)) = clock.block_on(budget) {
        let _ = outcome.to_json();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate::validate_text(text);
    let Ok(definition) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let _ = Machine::from_definition(&definition, MachineType::Standard);
    // Compiling alone accepts a superset of what validation accepts: run that.
    if let Ok(machine) = Machine::compile(&definition) {
        run(&machine);
    }
});

//! `quickstep bench`: the engine alone — N executions of one definition on one thread with a
//! virtual clock and no integrations — reported as executions and transitions per second.
//! Each execution starts from the same parsed input, lent to the engine, which copies it
//! only where a state writes into it (as aws-local-stepfunctions, in
//! `loadtest/asl-vs-aws-local`, is handed the same input object each time and copies it
//! itself).

use crate::cli::{Failure, InputArgs};
use anyhow::Context as _;
use asl::interpret::{SplitMix64, VirtualClock};
use asl::{ErrorName, ExecutionInfo, Services, StatesError, TaskHandler, TaskRequest};
use futures::future::BoxFuture;
use runtime::registry::Registry;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// The flags of `quickstep bench`.
#[derive(clap::Args)]
pub struct BenchFlags {
    /// The state machine definition.
    definition: PathBuf,
    #[command(flatten)]
    input: InputArgs,
    /// How many executions.
    #[arg(short = 'n', default_value_t = 100_000)]
    executions: u64,
}

/// `bench` measures the engine alone: its tasks fail at once.
struct NoIntegrations;

impl TaskHandler for NoIntegrations {
    fn invoke<'a>(&'a self, request: TaskRequest<'a>) -> BoxFuture<'a, Result<Value, StatesError>> {
        let error = StatesError::new(
            ErrorName::TaskFailed,
            format!(
                "No integration is configured for the resource '{}'",
                request.resource
            ),
        );
        Box::pin(async move { Err(error) })
    }
}

/// Runs the executions and prints one JSON line.
pub fn run(flags: BenchFlags) -> Result<ExitCode, Failure> {
    let registry = Registry::new("local", "000000000000");
    let revision = crate::commands::run::load(&registry, &flags.definition)?;
    let input = flags.input.read().map_err(Failure::Usage)?;
    let info = ExecutionInfo {
        execution_arn: registry.execution_arn(&revision.name, "run"),
        name: "run".into(),
        role_arn: revision.role_arn.as_str().into(),
        state_machine_arn: revision.arn.as_str().into(),
        state_machine_name: revision.name.as_str().into(),
        redrive_count: None,
    };
    let clock = VirtualClock::new(0);
    let rng = SplitMix64::new(1);
    let services = Services {
        tasks: &NoIntegrations,
        clock: &clock,
        rng: &rng,
        tokens: &asl::interpret::CountingTokens::default(),
        history: None,
    };
    let mut transitions = 0u64;
    let mut last = None;
    let started = Instant::now();
    for i in 0..flags.executions {
        let outcome = clock
            .block_on(revision.machine.run_borrowed(&input, &info, &services))
            .context("the execution waited on something a virtual clock cannot finish")
            .map_err(Failure::Usage)?;
        transitions += outcome.state_transitions;
        if i + 1 == flags.executions {
            last = Some(outcome);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // The last execution's outcome, so a comparison can check what was measured.
    println!(
        "{}",
        serde_json::json!({
            "executions": flags.executions,
            "seconds": seconds,
            "executions_per_second": flags.executions as f64 / seconds,
            "state_transitions_per_second": transitions as f64 / seconds,
            "outcome": last.map(|outcome| outcome.to_json()),
        })
    );
    Ok(ExitCode::SUCCESS)
}

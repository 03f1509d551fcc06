//! Flags → a subcommand (`commands/`) → an exit code. The codes, as README lists them:
//! 0 done (an execution SUCCEEDED, a definition is valid); 1 an execution FAILED or TIMED
//! OUT, or `validate` found the definition invalid; 2 the user's mistake (a usage error, an
//! unreadable or invalid definition or input, an invalid configuration); 3 the world's (a
//! broker unreachable, a port taken, a store down) — never the user's input.

use crate::commands::{bench, dev, gateway, run, validate, worker};
use crate::config::gateway::GatewayFlags;
use crate::config::worker::WorkerFlags;
use crate::telemetry::OtlpArgs;
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for a usage, definition, input or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a failure that is not the user's: Kafka, a store, a port, the machine.
pub const EXIT_ENVIRONMENT: u8 = 3;

/// Why a command could not do its job, by whose fault.
#[derive(Debug)]
pub enum Failure {
    /// The user's: flags, a definition, an input, a configuration (exit 2).
    Usage(anyhow::Error),
    /// The world's: a broker, a store, a listener, the runtime (exit 3).
    Environment(anyhow::Error),
}

impl Failure {
    /// The exit code and the one message to print.
    pub fn report(&self) -> (u8, &anyhow::Error) {
        match self {
            Failure::Usage(error) => (EXIT_USAGE, error),
            Failure::Environment(error) => (EXIT_ENVIRONMENT, error),
        }
    }
}

#[derive(Parser)]
#[command(
    name = "quickstep",
    version,
    about = "AWS Step Functions Express workflows on Kafka"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one execution and print its outcome as the last line:
    /// {"status": …, "output": …} or {"status": …, "error": …, "cause": …}.
    /// Exit 0 on SUCCEEDED, 1 on FAILED or TIMED_OUT, 2 on a usage or definition error.
    Run(Box<run::RunFlags>),
    /// Check a definition; print its diagnostics. Exit 0 when valid, 1 when not.
    Validate(validate::ValidateFlags),
    /// Join the consumer group and run the executions that start records ask for, until
    /// SIGTERM or Ctrl-C (then drain, commit and leave the group).
    Worker {
        #[command(flatten)]
        flags: Box<WorkerFlags>,
        #[command(flatten)]
        otlp: OtlpArgs,
    },
    /// Serve the Step Functions API (AWS JSON 1.0) until SIGTERM or Ctrl-C: state machines
    /// into the registry topic, StartExecution onto Kafka, StartSyncExecution in-process.
    Gateway(Box<GatewayFlags>),
    /// Everything in one process, nothing to set up: an embedded Kafka, a worker, the
    /// gateway on 127.0.0.1:8080 and the examples registered. Prints what to try next.
    Dev(Box<dev::DevFlags>),
    /// Run N executions in-process on one thread and print executions and state
    /// transitions per second as the last line.
    Bench(bench::BenchFlags),
}

/// An execution input: `--input JSON`, `--input-file FILE`, or `{}`.
#[derive(clap::Args)]
pub struct InputArgs {
    /// The execution input as JSON text.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// A file holding the execution input.
    #[arg(long)]
    input_file: Option<PathBuf>,
}

impl InputArgs {
    /// The input, parsed.
    pub fn read(&self) -> anyhow::Result<Value> {
        let text = match (&self.input, &self.input_file) {
            (Some(text), _) => text.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?,
            (None, None) => "{}".to_owned(),
        };
        serde_json::from_str(&text).context("the input is not JSON")
    }
}

/// Parses the flags and runs the subcommand.
pub fn main() -> Result<ExitCode, Failure> {
    match Cli::parse().command {
        Command::Run(flags) => run::run(*flags),
        Command::Validate(flags) => validate::run(flags),
        Command::Worker { flags, otlp } => worker::run(&flags, &otlp),
        Command::Gateway(flags) => gateway::run(&flags),
        Command::Dev(flags) => dev::run(*flags),
        Command::Bench(flags) => bench::run(flags),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn wait_for_signal() {
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    match terminate {
        Ok(mut terminate) => tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        // No SIGTERM handler can be installed: Ctrl-C still works.
        Err(error) => {
            tracing::warn!(message = "No SIGTERM handler.", %error);
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

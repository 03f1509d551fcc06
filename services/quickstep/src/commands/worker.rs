//! `quickstep worker`: joins the consumer group and runs start records until SIGTERM or
//! Ctrl-C (then drains, commits and leaves the group).

use crate::cli::{wait_for_signal, Failure};
use crate::config::worker::WorkerFlags;
use crate::telemetry::{self, Log, OtlpArgs};
use anyhow::Context as _;
use std::process::ExitCode;
use worker::{Worker, WorkerError};

/// Runs the worker.
pub fn run(flags: &WorkerFlags, otlp: &OtlpArgs) -> Result<ExitCode, Failure> {
    let telemetry =
        telemetry::init("quickstep-worker", otlp, Log::Stderr).map_err(Failure::Usage)?;
    let config = crate::config::worker::load(flags).map_err(|e| {
        Failure::Usage(anyhow::Error::msg(e).context("loading the worker configuration"))
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .map_err(Failure::Environment)?;
    let ran = runtime.block_on(async {
        let worker = Worker::build(config, worker::metrics::Metrics::new())
            .await
            .map_err(starting)?;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!(message = "Shutting down.");
            signals.cancel();
        });
        // The loop runs as a task on the runtime's threads, not on this one: the
        // executions it spawns then start on its thread's local queue instead of
        // being injected from outside and waking another thread for each.
        tokio::spawn(worker.run(shutdown))
            .await
            .context("the worker's task failed")
            .map_err(Failure::Environment)?
            .map_err(|e| Failure::Environment(anyhow::Error::new(e).context("running the worker")))
    });
    drop(runtime);
    telemetry.shutdown();
    ran?;
    Ok(ExitCode::SUCCESS)
}

/// A worker that could not start: the user's configuration, or the world (Kafka, the
/// store, a port).
fn starting(error: WorkerError) -> Failure {
    let user = matches!(
        error,
        WorkerError::Config(_)
            | WorkerError::Registry(_)
            | WorkerError::Trigger(_)
            | WorkerError::Tasks(_)
    );
    let error = anyhow::Error::new(error).context("starting the worker");
    if user {
        Failure::Usage(error)
    } else {
        Failure::Environment(error)
    }
}

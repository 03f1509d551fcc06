//! `quickstep gateway`: serves the Step Functions API until SIGTERM or Ctrl-C.

use crate::cli::{wait_for_signal, Failure};
use crate::config::gateway::GatewayFlags;
use crate::telemetry::{self, Log, OtlpArgs};
use anyhow::Context as _;
use gateway::{Gateway, GatewayError};
use std::process::ExitCode;

/// Runs the gateway.
pub fn run(flags: &GatewayFlags) -> Result<ExitCode, Failure> {
    let telemetry = telemetry::init("quickstep-gateway", &OtlpArgs::default(), Log::Stderr)
        .map_err(Failure::Usage)?;
    let config = crate::config::gateway::load(flags).map_err(|e| {
        Failure::Usage(anyhow::Error::msg(e).context("loading the gateway configuration"))
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .map_err(Failure::Environment)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&config.address)
            .await
            .with_context(|| format!("listening on {}", config.address))
            .map_err(Failure::Environment)?;
        let metrics = gateway::metrics::Metrics::new(runtime::metrics::ExecutionMetrics::new());
        let gateway = Gateway::build(config, metrics)
            .await
            .map_err(|e| failure(e, "starting the gateway"))?;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!(message = "Shutting down.");
            signals.cancel();
        });
        gateway
            .serve(listener, shutdown)
            .await
            .map_err(|e| failure(e, "serving the gateway"))
    })?;
    drop(runtime);
    telemetry.shutdown();
    Ok(ExitCode::SUCCESS)
}

/// The user's configuration, or the world (Kafka, the listener).
fn failure(error: GatewayError, doing: &'static str) -> Failure {
    let user = matches!(
        error,
        GatewayError::Config(_) | GatewayError::Tasks(_) | GatewayError::Unauthenticated(_)
    );
    let error = anyhow::Error::new(error).context(doing);
    if user {
        Failure::Usage(error)
    } else {
        Failure::Environment(error)
    }
}

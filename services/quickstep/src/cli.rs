//! Flags → a run. `run` executes one execution, `validate` checks a definition, `bench`
//! measures executions per second on one thread.

use crate::dev::{self, DevFlags};
use crate::gateway_config::{self, GatewayFlags};
use crate::telemetry::{self, OtlpArgs};
use crate::worker_config::{self, WorkerFlags};
use anyhow::{bail, Context as _};
use asl::history::Recorder;
use asl::interpret::{SplitMix64, VirtualClock};
use asl::validate::{self, MachineType};
use asl::{
    ErrorName, ExecutionInfo, Machine, Services, StatesError, Status, TaskHandler, TaskRequest,
};
use clap::{Parser, Subcommand, ValueEnum};
use futures::future::BoxFuture;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument as _;
use worker::clock::{system_rng, SystemClock};
use worker::tasks::callback::CallbackRegistry;
use worker::tasks::config::TasksConfig;
use worker::tasks::mock::MockTasks;
use worker::tasks::trace;
use worker::tasks::Integrations;

/// Exit code for a usage or definition error.
pub const EXIT_USAGE: u8 = 2;

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
    Run {
        /// The state machine definition (Amazon States Language JSON).
        definition: PathBuf,
        #[command(flatten)]
        input: InputArgs,
        /// `virtual` makes waits, retries and timeouts take no real time.
        #[arg(long, value_enum, default_value_t = ClockKind::Real)]
        clock: ClockKind,
        /// Also print the history events, one JSON object per line, before the outcome.
        #[arg(long)]
        history: bool,
        #[command(flatten)]
        tasks: TaskArgs,
        #[command(flatten)]
        otlp: OtlpArgs,
    },
    /// Check a definition; print its diagnostics. Exit 0 when valid, 1 when not.
    Validate {
        /// The state machine definition.
        definition: PathBuf,
        /// Check as AWS checks this type of state machine.
        #[arg(long = "type", value_enum, default_value_t = TypeArg::Express)]
        machine_type: TypeArg,
    },
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
    Dev(Box<DevFlags>),
    /// Run N executions in-process on one thread and print executions and state
    /// transitions per second as the last line.
    Bench {
        /// The state machine definition.
        definition: PathBuf,
        #[command(flatten)]
        input: InputArgs,
        /// How many executions.
        #[arg(short = 'n', default_value_t = 100_000)]
        executions: u64,
    },
}

#[derive(clap::Args)]
struct InputArgs {
    /// The execution input as JSON text.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// A file holding the execution input.
    #[arg(long)]
    input_file: Option<PathBuf>,
}

impl InputArgs {
    fn read(&self) -> anyhow::Result<Value> {
        let text = match (&self.input, &self.input_file) {
            (Some(text), _) => text.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?,
            (None, None) => "{}".to_owned(),
        };
        serde_json::from_str(&text).context("the input is not JSON")
    }
}

/// How `run` performs Task states: the worker's integrations (Lambda endpoint from the
/// configuration file or QUICKSTEP_LAMBDA_ENDPOINT), optionally behind a mock test case.
#[derive(clap::Args)]
struct TaskArgs {
    /// A worker configuration file (TOML) whose `[tasks]` section configures the
    /// integrations (Lambda endpoint, HTTP connections, rate limits).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The Lambda Invoke API endpoint, e.g. http://127.0.0.1:9001
    /// [env: QUICKSTEP_LAMBDA_ENDPOINT].
    #[arg(long)]
    lambda_endpoint: Option<String>,
    /// A Step Functions Local mock configuration (MockConfigFile.json).
    #[arg(long, requires = "test_case")]
    mock_config: Option<PathBuf>,
    /// The test case of the mock configuration to run.
    #[arg(long, requires = "mock_config")]
    test_case: Option<String>,
    /// The state machine of the mock configuration [default: the definition's file name,
    /// or the only one with the test case].
    #[arg(long, requires = "mock_config")]
    mock_state_machine: Option<String>,
}

impl TaskArgs {
    fn handler(&self, definition_name: &str) -> anyhow::Result<Arc<dyn TaskHandler>> {
        let mut config = match &self.config {
            Some(file) => {
                worker_config::load(&WorkerFlags {
                    config: Some(file.clone()),
                    ..WorkerFlags::default()
                })
                .context("loading the configuration")?
                .tasks
            }
            None => TasksConfig::default(),
        };
        if let Some(endpoint) = &self.lambda_endpoint {
            config.lambda.endpoint = Some(endpoint.clone());
        }
        config.read_env();
        let registry = CallbackRegistry::new(Arc::new(SystemClock));
        let integrations: Arc<dyn TaskHandler> = Arc::new(
            Integrations::new(&config, None, registry).context("building the task integrations")?,
        );
        let (Some(file), Some(case)) = (&self.mock_config, &self.test_case) else {
            return Ok(integrations);
        };
        let machine = self
            .mock_state_machine
            .as_deref()
            .unwrap_or(definition_name);
        let mocks = MockTasks::load(file, Some(machine), case, Some(integrations))
            .map_err(anyhow::Error::msg)?;
        Ok(Arc::new(mocks))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum TypeArg {
    Express,
    Standard,
}

#[derive(Clone, Copy, ValueEnum)]
enum ClockKind {
    Real,
    Virtual,
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

fn load(definition: &Path) -> anyhow::Result<Machine> {
    let text = std::fs::read_to_string(definition)
        .with_context(|| format!("reading {}", definition.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", definition.display()))?;
    // Executions check as STANDARD: Quickstep runs patterns (callbacks) that AWS's Express
    // validation refuses; `quickstep validate --type express` shows what AWS would say.
    Machine::from_definition(&value, MachineType::Standard)
        .with_context(|| format!("{} is not a valid definition", definition.display()))
}

fn info_for(definition: &Path) -> ExecutionInfo<'static> {
    let name = definition
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_end_matches(".json").trim_end_matches(".asl"))
        .unwrap_or("machine")
        .to_owned();
    ExecutionInfo {
        execution_arn: format!("arn:aws:states:local:000000000000:express:{name}:run"),
        name: "run".into(),
        role_arn: "arn:aws:iam::000000000000:role/quickstep".into(),
        state_machine_arn: format!("arn:aws:states:local:000000000000:stateMachine:{name}").into(),
        state_machine_name: name.into(),
        redrive_count: None,
    }
}

pub fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            definition,
            input,
            clock,
            history,
            tasks,
            otlp,
        } => {
            let machine = load(&definition)?;
            let input = input.read()?;
            let info = info_for(&definition);
            let tasks = tasks.handler(&info.state_machine_name)?;
            // `run` logs nothing; it exports its execution's spans when asked to.
            let telemetry = match otlp.endpoint() {
                Some(_) => Some(telemetry::init("quickstep-run", &otlp, false)?),
                None => None,
            };
            // The parent: a `traceparent` in the environment (as a shell or CI job passes
            // trace context on to a command), like a start record's header for the worker.
            let traceparent = std::env::var("TRACEPARENT").ok();
            let span = trace::execution_span(&info, traceparent.as_deref());
            let recorder = Recorder::default();
            let history = history.then_some(&recorder as &dyn asl::history::HistoryObserver);
            let outcome = match clock {
                ClockKind::Virtual => {
                    let clock = VirtualClock::new(SystemClock.now_ms_for_start());
                    let rng = system_rng();
                    let services = Services {
                        tasks: tasks.as_ref(),
                        clock: &clock,
                        rng: &rng,
                        history,
                    };
                    let run =
                        trace::with_traceparent(traceparent, machine.run(input, &info, &services));
                    match clock.block_on(run.instrument(span.clone())) {
                        Some(outcome) => outcome,
                        None => {
                            bail!("the execution waited on something a virtual clock cannot finish")
                        }
                    }
                }
                ClockKind::Real => {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .context("starting the runtime")?;
                    let rng = system_rng();
                    let services = Services {
                        tasks: tasks.as_ref(),
                        clock: &SystemClock,
                        rng: &rng,
                        history,
                    };
                    let run =
                        trace::with_traceparent(traceparent, machine.run(input, &info, &services));
                    runtime.block_on(run.instrument(span.clone()))
                }
            };
            trace::finished(&span, &outcome);
            drop(span);
            if let Some(telemetry) = telemetry {
                telemetry.shutdown();
            }
            for event in recorder.events() {
                println!(
                    "{}",
                    serde_json::to_string(&event).context("rendering an event")?
                );
            }
            println!("{}", outcome.to_json());
            Ok(ExitCode::from(if outcome.status == Status::Succeeded {
                0
            } else {
                1
            }))
        }
        Command::Validate {
            definition,
            machine_type,
        } => {
            let text = std::fs::read_to_string(&definition)
                .with_context(|| format!("reading {}", definition.display()))?;
            let machine_type = match machine_type {
                TypeArg::Express => MachineType::Express,
                TypeArg::Standard => MachineType::Standard,
            };
            let diagnostics = validate::validate_text_for(&text, machine_type);
            for diagnostic in &diagnostics {
                println!("{} {diagnostic}", diagnostic.severity);
            }
            if validate::has_errors(&diagnostics) {
                return Ok(ExitCode::from(1));
            }
            println!("OK");
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker { flags, otlp } => {
            let telemetry = telemetry::init("quickstep-worker", &otlp, true)?;
            let config = worker_config::load(&flags).context("loading the worker configuration")?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            let ran = runtime.block_on(async {
                let worker = worker::Worker::build(config, worker::metrics::Metrics::new())
                    .await
                    .context("starting the worker")?;
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
                    .context("the worker's task failed")?
                    .context("running the worker")
            });
            drop(runtime);
            telemetry.shutdown();
            ran?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Gateway(flags) => {
            let telemetry = telemetry::init("quickstep-gateway", &OtlpArgs::default(), true)?;
            let config = gateway_config::load(&flags)
                .map_err(anyhow::Error::msg)
                .context("loading the gateway configuration")?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(&config.address)
                    .await
                    .with_context(|| format!("listening on {}", config.address))?;
                let gateway = gateway::Gateway::build(
                    config,
                    gateway::metrics::Metrics::new(worker::metrics::Metrics::new()),
                )
                .await
                .context("starting the gateway")?;
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
                    .context("serving the gateway")
            })?;
            drop(runtime);
            telemetry.shutdown();
            Ok(ExitCode::SUCCESS)
        }
        Command::Dev(flags) => {
            let telemetry = telemetry::init("quickstep-dev", &OtlpArgs::default(), true)?;
            dev::run(*flags, wait_for_signal())?;
            telemetry.shutdown();
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            definition,
            input,
            executions,
        } => {
            let machine = load(&definition)?;
            let input = input.read()?;
            let info = info_for(&definition);
            let clock = VirtualClock::new(0);
            let rng = SplitMix64::new(1);
            let services = Services {
                tasks: &NoIntegrations,
                clock: &clock,
                rng: &rng,
                history: None,
            };
            let mut transitions = 0u64;
            let started = Instant::now();
            for _ in 0..executions {
                let outcome = clock
                    .block_on(machine.run(input.clone(), &info, &services))
                    .context("the execution waited on something a virtual clock cannot finish")?;
                transitions += outcome.state_transitions;
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({
                    "executions": executions,
                    "seconds": seconds,
                    "executions_per_second": executions as f64 / seconds,
                    "state_transitions_per_second": transitions as f64 / seconds,
                })
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

trait StartTime {
    fn now_ms_for_start(&self) -> i64;
}

impl StartTime for SystemClock {
    /// A virtual run starts at the real current time, so timestamps look right.
    fn now_ms_for_start(&self) -> i64 {
        asl::interpret::Clock::now_ms(self)
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
/// Resolves on SIGTERM or Ctrl-C.
async fn wait_for_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler works on Unix");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

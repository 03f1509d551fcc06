//! `quickstep run`: one execution of a definition file on the shared runtime — the same
//! executor, integrations (`[tasks]`, `--lambda-endpoint`, `--brokers` for the Kafka task)
//! and spans as a worker's — with a real or a virtual clock; prints the outcome.

use crate::cli::{Failure, InputArgs};
use crate::telemetry::{self, Log, OtlpArgs};
use anyhow::Context as _;
use asl::history::Level;
use asl::interpret::{Clock, VirtualClock};
use asl::{Status, TaskHandler};
use clap::ValueEnum;
use runtime::clock::{system_rng, SystemClock};
use runtime::execute::{ExecutionRequest, Executor};
use runtime::kafka::KafkaSettings;
use runtime::metrics::ExecutionMetrics;
use runtime::registry::{Registry, RegistryEntry, Revision};
use runtime::task_token::TaskTokenKeys;
use runtime::tasks::callback::CallbackRegistry;
use runtime::tasks::mock::MockTasks;
use runtime::tasks::Integrations;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The flags of `quickstep run`.
#[derive(clap::Args)]
pub struct RunFlags {
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
}

#[derive(Clone, Copy, ValueEnum)]
enum ClockKind {
    Real,
    Virtual,
}

/// How `run` performs Task states: the integrations every command shares (configured by the
/// file's `[tasks]` section, QUICKSTEP_TASKS__*, QUICKSTEP_LAMBDA_ENDPOINT and the flags),
/// optionally behind a Step Functions Local mock test case.
#[derive(clap::Args)]
struct TaskArgs {
    /// A configuration file (TOML) whose `[tasks]` section configures the integrations
    /// (Lambda endpoint, HTTP connections, rate limits).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The Lambda Invoke API endpoint, e.g. http://127.0.0.1:9001
    /// [env: QUICKSTEP_LAMBDA_ENDPOINT].
    #[arg(long)]
    lambda_endpoint: Option<String>,
    /// Kafka bootstrap servers for the Kafka task (`quickstep:kafka.produce`); without
    /// them the Kafka task fails with a clear error.
    #[arg(long)]
    brokers: Option<String>,
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
    fn handler(
        &self,
        state_machine: &str,
        keys: Arc<TaskTokenKeys>,
    ) -> Result<Arc<dyn TaskHandler>, Failure> {
        let mut config = crate::config::tasks::load(self.config.as_deref()).map_err(|e| {
            Failure::Usage(anyhow::Error::msg(e).context("loading the configuration"))
        })?;
        if let Some(endpoint) = &self.lambda_endpoint {
            config.lambda.endpoint = Some(endpoint.clone());
        }
        let producer = match &self.brokers {
            Some(brokers) => Some(
                KafkaSettings {
                    brokers: brokers.clone(),
                    client_group: "quickstep-run".into(),
                    registry_topic: String::new(),
                    partitions: 1,
                    overrides: Default::default(),
                }
                .producer()
                .context("building the Kafka producer")
                .map_err(Failure::Environment)?,
            ),
            None => None,
        };
        let callbacks = CallbackRegistry::new(Arc::new(SystemClock), keys);
        let integrations: Arc<dyn TaskHandler> = Arc::new(
            Integrations::new(&config, producer, callbacks)
                .context("building the task integrations")
                .map_err(Failure::Usage)?,
        );
        let (Some(file), Some(case)) = (&self.mock_config, &self.test_case) else {
            return Ok(integrations);
        };
        let machine = self.mock_state_machine.as_deref().unwrap_or(state_machine);
        let mocks = MockTasks::load(file, Some(machine), case, Some(integrations))
            .map_err(|e| Failure::Usage(anyhow::Error::msg(e)))?;
        Ok(Arc::new(mocks))
    }
}

/// The state machine's name: the definition's file name without `.asl.json` / `.json`.
pub fn state_machine_name(definition: &Path) -> String {
    definition
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_end_matches(".json").trim_end_matches(".asl"))
        .unwrap_or("machine")
        .to_owned()
}

/// The definition as a revision, compiled as the registry compiles every revision
/// (STANDARD rules: Quickstep runs callbacks that AWS's Express validation refuses;
/// `quickstep validate --type express` shows what AWS would say).
pub fn load(registry: &Registry, definition: &Path) -> Result<Arc<Revision>, Failure> {
    let text = std::fs::read_to_string(definition)
        .with_context(|| format!("reading {}", definition.display()))
        .map_err(Failure::Usage)?;
    let entry = RegistryEntry {
        name: state_machine_name(definition),
        definition: text,
        role_arn: "arn:aws:iam::000000000000:role/quickstep".into(),
        level: None,
        include_execution_data: false,
    };
    registry
        .apply(&entry)
        .with_context(|| format!("{} is not a valid definition", definition.display()))
        .map_err(Failure::Usage)
}

/// Runs the execution; exit 0 on SUCCEEDED, 1 otherwise.
pub fn run(flags: RunFlags) -> Result<ExitCode, Failure> {
    let registry = Registry::new("local", "000000000000");
    let revision = load(&registry, &flags.definition)?;
    let input = flags.input.read().map_err(Failure::Usage)?;
    // One process answers its own callbacks: a key of its own, unknown to anyone else.
    let keys = Arc::new(
        TaskTokenKeys::ephemeral()
            .context("making the task token key")
            .map_err(Failure::Environment)?,
    );
    let tasks = flags.tasks.handler(&revision.name, keys.clone())?;
    // `run` logs nothing; it exports its execution's spans when asked to.
    let telemetry = match flags.otlp.endpoint() {
        Some(_) => {
            Some(telemetry::init("quickstep-run", &flags.otlp, Log::Off).map_err(Failure::Usage)?)
        }
        None => None,
    };
    let mut request = ExecutionRequest {
        execution_arn: registry.execution_arn(&revision.name, "run"),
        name: "run".into(),
        revision,
        input,
        // The parent: a `traceparent` in the environment (as a shell or CI job passes trace
        // context on to a command), like a start record's header for the worker.
        traceparent: std::env::var("TRACEPARENT").ok(),
        attempt: 1,
    };
    let level = if flags.history {
        Level::All
    } else {
        Level::Off
    };
    let executor = |clock: Arc<dyn Clock>| {
        Executor::new(
            tasks.clone(),
            clock,
            Arc::new(system_rng()),
            keys.clone(),
            ExecutionMetrics::new(),
            level,
            flags.history,
        )
    };
    let finished = match flags.clock {
        ClockKind::Virtual => {
            // A virtual run starts at the real current time, so timestamps look right.
            let clock = Arc::new(VirtualClock::new(SystemClock.now_ms()));
            let executor = executor(clock.clone());
            clock
                .block_on(executor.execute(&mut request))
                .context("the execution waited on something a virtual clock cannot finish")
                .map_err(Failure::Usage)?
        }
        ClockKind::Real => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")
                .map_err(Failure::Environment)?;
            let executor = executor(Arc::new(SystemClock));
            runtime.block_on(executor.execute(&mut request))
        }
    };
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    for event in &finished.history {
        let line = serde_json::to_string(event)
            .context("rendering an event")
            .map_err(Failure::Environment)?;
        println!("{line}");
    }
    let outcome = finished.outcome;
    println!("{}", outcome.to_json());
    Ok(ExitCode::from(if outcome.status == Status::Succeeded {
        0
    } else {
        1
    }))
}

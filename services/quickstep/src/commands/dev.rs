//! `quickstep dev`: everything in one process, nothing to set up — an embedded Kafka
//! (librdkafka's mock cluster) unless `--brokers` names a real one, a worker with in-memory
//! idempotency, the gateway on a loopback address without authentication, and the example
//! state machines registered, history at level ALL on `quickstep.history`, and the gateway's
//! execution store (in memory) behind the read APIs and the console. Prints what to try
//! next; SIGTERM or Ctrl-C stops it cleanly.

use crate::cli::{wait_for_signal, Failure};
use crate::telemetry::Log;
use anyhow::Context as _;
use gateway::config::GatewayConfig;
use rdkafka::mocking::MockCluster;
use runtime::tasks::config::TasksConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use worker::config::WorkerConfig;

/// The flags of `quickstep dev`.
#[derive(clap::Args, Debug)]
pub struct DevFlags {
    /// Use this Kafka instead of the embedded one (HOST:PORT[,…]).
    #[arg(long)]
    pub brokers: Option<String>,
    /// The gateway's address; loopback only (no authentication in dev).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub address: String,
    /// Register every NAME.asl.json in this directory.
    #[arg(long, default_value = "examples")]
    pub examples: PathBuf,
    /// History: off, stdout, file:PATH or kafka:TOPIC. By default every event goes to the
    /// history topic, where the gateway's execution store (and the console) read it.
    #[arg(long, default_value = "kafka:quickstep.history")]
    pub history: String,
    /// History level when history is on: ALL, ERROR, FATAL or OFF.
    #[arg(long, default_value = "ALL")]
    pub history_level: String,
    /// A configuration file whose `[tasks]` section configures the task integrations of
    /// the worker and of StartSyncExecution alike (also QUICKSTEP_TASKS__* and
    /// QUICKSTEP_LAMBDA_ENDPOINT).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

const TOPICS: &[&str] = &[
    "quickstep.start",
    "quickstep.results",
    "quickstep.state-machines",
    "quickstep.callbacks",
    "quickstep.history",
];

fn examples(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf, String)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".asl.json"))
            .map(str::to_owned)
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        found.push((name, path, text));
    }
    found.sort();
    Ok(found)
}

/// Runs `quickstep dev` until SIGTERM or Ctrl-C.
pub fn run(flags: DevFlags) -> Result<ExitCode, Failure> {
    let telemetry = crate::telemetry::init("quickstep-dev", &Default::default(), Log::Stderr)
        .map_err(Failure::Usage)?;
    let address: std::net::SocketAddr = flags
        .address
        .parse()
        .with_context(|| format!("--address {} is not HOST:PORT", flags.address))
        .map_err(Failure::Usage)?;
    if !address.ip().is_loopback() {
        return Err(Failure::Usage(anyhow::anyhow!("quickstep dev serves without authentication, so only on a loopback address (not {address}); use `quickstep gateway` with access keys instead")));
    }
    let tasks = crate::config::tasks::load(flags.config.as_deref())
        .map_err(|e| Failure::Usage(anyhow::Error::msg(e).context("loading the configuration")))?;
    // The mock cluster lives on this thread for the whole run: its brokers are librdkafka
    // threads behind real loopback sockets.
    let mock = match &flags.brokers {
        Some(_) => None,
        None => Some(
            MockCluster::new(1)
                .context("starting the embedded Kafka")
                .map_err(Failure::Environment)?,
        ),
    };
    let brokers = match (&flags.brokers, &mock) {
        (Some(brokers), _) => brokers.clone(),
        (None, Some(mock)) => {
            for topic in TOPICS {
                mock.create_topic(topic, 3, 1)
                    .with_context(|| format!("creating {topic}"))
                    .map_err(Failure::Environment)?;
            }
            mock.bootstrap_servers()
        }
        (None, None) => unreachable!("a mock cluster exists when no brokers are given"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .map_err(Failure::Environment)?;
    let result = runtime.block_on(serve(flags, tasks, brokers, mock.is_some(), address));
    drop(runtime);
    drop(mock);
    telemetry.shutdown();
    result.map(|()| ExitCode::SUCCESS)
}

async fn serve(
    flags: DevFlags,
    tasks: TasksConfig,
    brokers: String,
    embedded: bool,
    address: std::net::SocketAddr,
) -> Result<(), Failure> {
    let worker_metrics = worker::metrics::Metrics::new();
    // A key for this process's life, shared by its worker and gateway: dev's tokens verify
    // nowhere else, and a restart forgets them along with the executions that waited.
    let task_token_key = runtime::task_token::TaskTokenSecret::random()
        .context("making the task token key")
        .map_err(Failure::Environment)?;
    let worker_config = WorkerConfig {
        task_token_key: Some(task_token_key.clone()),
        brokers: brokers.clone(),
        idempotency: "memory".into(),
        history: flags.history.clone(),
        history_level: if flags.history == "off" {
            "OFF".into()
        } else {
            flags.history_level.clone()
        },
        partitions: 3,
        // The console shows each state's input and output.
        include_execution_data: true,
        shutdown_grace_seconds: 10,
        tasks: tasks.clone(),
        ..WorkerConfig::default()
    };
    let worker = worker::Worker::build(worker_config.clone(), worker_metrics.clone())
        .await
        .context("starting the worker")
        .map_err(Failure::Environment)?;
    let gateway_config = GatewayConfig {
        address: address.to_string(),
        brokers: brokers.clone(),
        history: flags.history.clone(),
        history_level: worker_config.history_level.clone(),
        partitions: 3,
        // Dev runs examples that use callbacks too.
        definition_rules: "standard".into(),
        // StartSyncExecution calls what the worker calls.
        tasks,
        // Every execution, sync or async, for ListExecutions and the console.
        store: "memory".into(),
        include_execution_data: true,
        task_token_key: Some(task_token_key),
        ..GatewayConfig::default()
    };
    // One set of execution metrics for both, and the worker's at the gateway's /metrics.
    let gateway_metrics = gateway::metrics::Metrics::new(worker_metrics.executions.clone())
        .also_render(worker_metrics.registry.clone());
    let gateway = gateway::Gateway::build(gateway_config, gateway_metrics)
        .await
        .context("starting the gateway")
        .map_err(Failure::Environment)?;
    let mut registered = Vec::new();
    for (name, path, text) in examples(&flags.examples).map_err(Failure::Usage)? {
        match gateway.register(&name, &text).await {
            Ok(arn) => registered.push((name, path, arn)),
            Err(error) => {
                tracing::warn!(message = "Example not registered.", path = %path.display(), %error)
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))
        .map_err(Failure::Environment)?;
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .context("the listener's address")
            .map_err(Failure::Environment)?
    );
    let shutdown = CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    let gateway_task = tokio::spawn(gateway.serve(listener, shutdown.clone()));
    print_banner(&url, &brokers, embedded, &registered);
    wait_for_signal().await;
    tracing::info!(message = "Shutting down.");
    shutdown.cancel();
    gateway_task
        .await
        .context("the gateway task")
        .map_err(Failure::Environment)?
        .context("serving the gateway")
        .map_err(Failure::Environment)?;
    worker_task
        .await
        .context("the worker task")
        .map_err(Failure::Environment)?
        .context("running the worker")
        .map_err(Failure::Environment)?;
    println!("quickstep dev stopped.");
    Ok(())
}

fn print_banner(
    url: &str,
    brokers: &str,
    embedded: bool,
    registered: &[(String, PathBuf, String)],
) {
    let kafka = if embedded {
        format!("{brokers} (embedded; gone when this process stops)")
    } else {
        brokers.to_owned()
    };
    let mut text = format!(
        "\nquickstep dev is running.\n\n  Step Functions API  {url}  (no authentication; any credentials)\n  Kafka               {kafka}\n  Console             {url}/console/\n  Metrics             {url}/metrics\n"
    );
    for (name, path, arn) in registered {
        text.push_str(&format!(
            "  State machine       {name}  ({})  {arn}\n",
            path.display()
        ));
    }
    let (arn, input) = registered
        .first()
        .map(|(_, path, arn)| {
            let input = path.with_file_name(
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .replace(".asl.json", ".input.json"),
            );
            let input = if input.exists() {
                format!("file://{}", input.display())
            } else {
                "'{}'".into()
            };
            (arn.clone(), input)
        })
        .unwrap_or_else(|| {
            (
                "arn:aws:states:local:000000000000:stateMachine:NAME".into(),
                "'{}'".into(),
            )
        });
    // kcat sends a file as one record. No key: the idempotency key is then the record's
    // coordinates, so every run starts a new execution.
    let machine = registered
        .first()
        .map_or("NAME", |(name, ..)| name.as_str());
    let produce =
        format!("kcat -b {brokers} -P -t quickstep.start -H quickstep-state-machine={machine}");
    let produce = match input.strip_prefix("file://") {
        Some(file) => format!("{produce} {file}"),
        None => format!("echo {input} | {produce}"),
    };
    text.push_str(&format!(
        "\nTry:\n  export AWS_ACCESS_KEY_ID=dev AWS_SECRET_ACCESS_KEY=dev AWS_DEFAULT_REGION=local AWS_DISABLE_HOST_PREFIX_INJECTION=true\n  aws stepfunctions start-sync-execution --endpoint-url {url} --state-machine-arn {arn} --input {input}\n  aws stepfunctions start-execution --endpoint-url {url} --state-machine-arn {arn} --input {input}\n  aws stepfunctions list-executions --endpoint-url {url} --state-machine-arn {arn}\n  {produce}\n  kcat -b {brokers} -C -t quickstep.results -f '%k %s\\n'\n  curl -s {url}/metrics | grep quickstep_\n\nCtrl-C stops it.\n"
    ));
    println!("{text}");
}

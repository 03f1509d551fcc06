//! The Kafka benchmark and load generator. `kafka-bench load` runs a scenario against N
//! workers and reports on it (module `load`, numbers in `report`). `kafka-bench run`
//! measures, on the real broker and in one run:
//!
//! 1. a raw passthrough (consume → produce, no engine; this binary's `passthrough` mode in its
//!    own process) — the ceiling;
//! 2. `quickstep worker` running the order machine with history OFF;
//! 3. the same with history ALL to a Kafka topic, one record per event (`all`), and
//!    (`all-execution`) with `--history-format execution`, one record per execution;
//! 4. (`off-eos`) phase 2 with `--delivery exactly-once`: results and offsets in one
//!    transaction per batch, read `read_committed`;
//! 5. memory per in-flight execution: RSS of a worker holding M Wait-heavy executions.
//!
//! Each throughput phase starts its consumer, waits until its group is stable, then produces
//! N start records at full speed to a fresh topic and reads the results: executions/s =
//! N / (last result's timestamp − first start record's timestamp); latency = each result's
//! timestamp − its start record's timestamp (p50/p99), and "visible" latency = when the
//! reader received it − the start record's timestamp: with exactly-once a result is produced
//! before its transaction commits, and a `read_committed` reader sees it only then. Both sides use the worker's client
//! settings (consumer: cooperative-sticky, explicit offset store + auto-commit; producer:
//! idempotent, acks=all, linger.ms=5).

#![forbid(unsafe_code)]

use anyhow::{bail, Context as _, Result};
use clap::{Parser, Subcommand};
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod chaos;
mod cpu;
mod load;
mod report;
mod supervise;

const PARTITIONS: i32 = 6;

#[derive(Parser)]
#[command(name = "kafka-bench")]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Mode {
    /// The whole benchmark.
    Run(RunArgs),
    /// A load scenario (rate, key skew, duplicates, payload size) against N workers, with a
    /// report read from the results topic.
    Load(load::LoadArgs),
    /// The raw ceiling: consume → produce with the worker's client settings, no engine.
    Passthrough {
        #[arg(long)]
        brokers: String,
        #[arg(long)]
        input: String,
        #[arg(long)]
        output: String,
        #[arg(long)]
        group: String,
        #[arg(long, default_value_t = 1024)]
        max_in_flight: usize,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    /// The quickstep binary (a release build).
    #[arg(long)]
    quickstep: PathBuf,
    /// The state machine (the 5-state order machine).
    #[arg(long, default_value = "examples/order.asl.json")]
    definition: PathBuf,
    /// Start records per throughput phase.
    #[arg(short = 'n', long, default_value_t = 100_000)]
    records: u64,
    /// --max-in-flight of the throughput phases (worker and passthrough).
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// The worker's --idempotency in the throughput phases.
    #[arg(long, default_value = "memory")]
    idempotency: String,
    /// Executions held in flight for the memory phase (0 skips it).
    #[arg(long, default_value_t = 5000)]
    memory_in_flight: usize,
    /// The port of the memory phase's worker metrics endpoint, where the phase reads the
    /// in-flight gauge (on a machine shared with other runs, one of their own)
    /// [default: 19000 + this process's id % 1000].
    #[arg(long)]
    memory_metrics_port: Option<u16>,
    /// Phases to run, comma-separated: passthrough,off,off-eos,all,all-execution,memory
    /// (off-eos: the off phase with --delivery exactly-once; all-execution: the all phase
    /// with --history-format execution).
    #[arg(long, default_value = "passthrough,off,all,memory")]
    phases: String,
    /// Rounds of the throughput phases, run back to back (passthrough, off, all, then
    /// again): the report gives each phase's median and each round's ratio to the
    /// passthrough. On a shared machine one phase alone can run at half the speed of the
    /// next with whatever else the cores are doing; pairs measured moments apart and the
    /// median over rounds are steadier than any single run.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// One more argument for the worker phases' `quickstep worker` (repeatable), e.g.
    /// `--worker-arg=--profile --worker-arg=low-latency`: a setting's throughput cost
    /// against the same passthrough.
    #[arg(long = "worker-arg", value_name = "ARG", allow_hyphen_values = true)]
    worker_args: Vec<String>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Mode::Run(args) => runtime.block_on(run(args)),
        Mode::Load(args) => runtime.block_on(load::run(args)),
        Mode::Passthrough {
            brokers,
            input,
            output,
            group,
            max_in_flight,
        } => runtime.block_on(passthrough(
            &brokers,
            &input,
            &output,
            &group,
            max_in_flight,
        )),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), now_ms() % 100_000_000)
}

// ------------------------------------------------------------------ the worker's settings

/// The worker's consumer settings (services/worker/src/source.rs).
fn consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("max.poll.interval.ms", "600000");
    c
}

/// The worker's producer settings.
fn producer_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "0")
        .set("linger.ms", "5");
    c
}

async fn passthrough(
    brokers: &str,
    input: &str,
    output: &str,
    group: &str,
    max_in_flight: usize,
) -> Result<()> {
    let consumer: StreamConsumer = consumer_config(brokers, group).create()?;
    consumer.subscribe(&[input])?;
    let producer: FutureProducer = producer_config(brokers).create()?;
    let mut pending = FuturesUnordered::new();
    loop {
        tokio::select! {
            Some(done) = pending.next(), if !pending.is_empty() => {
                let (partition, offset): (i32, i64) = done;
                let mut list = TopicPartitionList::new();
                list.add_partition_offset(input, partition, Offset::Offset(offset + 1))?;
                consumer.store_offsets(&list).ok();
            }
            message = consumer.recv(), if pending.len() < max_in_flight => {
                let message = match message {
                    Ok(m) => m.detach(),
                    Err(_) => continue,
                };
                let producer = producer.clone();
                let output = output.to_owned();
                pending.push(async move {
                    let mut record = FutureRecord::to(&output);
                    if let Some(key) = message.key() {
                        record = record.key(key);
                    }
                    if let Some(payload) = message.payload() {
                        record = record.payload(payload);
                    }
                    producer.send(record, Timeout::Never).await.ok();
                    (message.partition(), message.offset())
                });
            }
        }
    }
}

// ------------------------------------------------------------------ the run

/// Creates `topics` with `config` (topic-level settings, e.g. the timestamp type).
async fn create_topics(
    brokers: &str,
    topics: &[&str],
    replication: i32,
    config: &[(&str, &str)],
) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            config.iter().fold(
                NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(replication)),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await? {
        if let Err((topic, error)) = result {
            bail!("creating topic {topic}: {error}");
        }
    }
    Ok(())
}

/// Deletes the topics a run made: each phase makes fresh ones, and left behind they filled
/// the local broker's disk (26 GB after a day of runs). Failures are reported, not fatal.
async fn delete_topics(brokers: &str, topics: &[String]) {
    if topics.is_empty() {
        return;
    }
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let deleted = async {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()?;
        admin.delete_topics(&names, &AdminOptions::new()).await
    };
    match deleted.await {
        Ok(results) => {
            for (topic, error) in results.into_iter().filter_map(Result::err) {
                eprintln!("kafka-bench: topic {topic} not deleted: {error}");
            }
        }
        Err(error) => eprintln!("kafka-bench: topics not deleted: {error}"),
    }
}

/// Waits until `process`, the only member of `group`, has joined it (a minute at most).
async fn joined(brokers: &str, group: &str, process: &mut Proc) -> Result<()> {
    wait_group(
        brokers,
        group,
        1,
        Duration::from_secs(60),
        std::slice::from_mut(process),
    )
    .await
}

/// The partitions a consumer group member was assigned, from its `ConsumerProtocolAssignment`
/// bytes (version i16, then topics: i32 count, each a string (i16 length) and i32
/// partitions (i32 count)); None when the bytes are not that.
pub(crate) fn assigned_partitions(assignment: &[u8]) -> Option<usize> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (bytes.get(..n)?, bytes.get(n..)?);
        *bytes = tail;
        Some(head)
    }
    // Big-endian and signed: a null array's count is -1.
    fn int(bytes: &mut &[u8], n: usize) -> Option<i64> {
        let head = take(bytes, n)?;
        Some(match n {
            2 => i64::from(i16::from_be_bytes(head.try_into().ok()?)),
            _ => i64::from(i32::from_be_bytes(head.try_into().ok()?)),
        })
    }
    let mut bytes = assignment;
    int(&mut bytes, 2)?;
    let topics = int(&mut bytes, 4)?;
    let mut partitions = 0;
    for _ in 0..topics.clamp(0, 10_000) {
        let name = int(&mut bytes, 2)?;
        take(&mut bytes, usize::try_from(name).ok()?)?;
        let count = usize::try_from(int(&mut bytes, 4)?).ok()?;
        take(&mut bytes, count.checked_mul(4)?)?;
        partitions += count;
    }
    Some(partitions)
}

/// Whether a group of `expected` members is ready to measure: Stable, with them all, and
/// (an incremental rebalance passes through Stable with the newcomers still empty-handed) as
/// many of them holding partitions as there are partitions to hold.
pub(crate) fn group_ready(state: &str, expected: usize, held: &[Option<usize>]) -> bool {
    let holding = held.iter().filter(|p| p.is_some_and(|p| p > 0)).count();
    let assigned: usize = held.iter().flatten().sum();
    state == "Stable"
        && held.len() >= expected.max(1)
        && assigned > 0
        && holding >= expected.max(1).min(assigned)
}

/// Waits until `group` is stable with at least `members` members, each holding partitions
/// (as many as there are partitions for); fails early when one of `processes` (the
/// members-to-be) has exited, and after `limit` with what the group looked like last.
async fn wait_group(
    brokers: &str,
    group: &str,
    members: usize,
    limit: Duration,
    processes: &mut [Proc],
) -> Result<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let deadline = Instant::now() + limit;
    let mut last = "not listed yet".to_owned();
    while Instant::now() < deadline {
        for process in processes.iter_mut() {
            if let Some(status) = process.0.try_wait()? {
                bail!("a member of {group} exited before the group formed: {status}");
            }
        }
        if let Ok(list) = consumer.fetch_group_list(Some(group), Duration::from_secs(5)) {
            if let Some(info) = list.groups().first() {
                let held: Vec<Option<usize>> = info
                    .members()
                    .iter()
                    .map(|m| assigned_partitions(m.assignment().unwrap_or_default()))
                    .collect();
                if group_ready(info.state(), members, &held) {
                    return Ok(());
                }
                last = format!(
                    "{}, {} members, partitions held {:?}",
                    info.state(),
                    held.len(),
                    held
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!(
        "group {group} not stable with {members} members holding partitions within {limit:?} (last seen: {last})"
    )
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("VmRSS")
}

fn scrape(address: &str, metric: &str) -> Option<f64> {
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines()
        .filter(|l| l.starts_with(metric))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(|a, b| a + b)
}

struct Phase {
    name: String,
    rate: f64,
    produce_rate: f64,
    p50: i64,
    p99: i64,
    max: i64,
    /// Received by the (read_committed) reader − start record timestamp.
    visible_p50: i64,
    visible_p99: i64,
}

/// Deliveries not yet acknowledged.
type Pending = FuturesUnordered<rdkafka::producer::DeliveryFuture>;

/// Hands `record` to the producer; while its queue is full, waits for deliveries to drain.
async fn enqueue(
    producer: &FutureProducer,
    pending: &mut Pending,
    mut record: FutureRecord<'_, str, str>,
) -> Result<()> {
    loop {
        match producer.send_result(record) {
            Ok(future) => {
                pending.push(future);
                return Ok(());
            }
            Err((_, back)) => {
                record = back;
                // Queue full: let deliveries drain.
                if let Some(done) = pending.next().await {
                    done?.map_err(|(e, _)| e)?;
                }
            }
        }
    }
}

/// Waits for every delivery; the first failure is the error.
async fn drain(pending: &mut Pending) -> Result<()> {
    while let Some(done) = pending.next().await {
        done?.map_err(|(e, _)| e)?;
    }
    Ok(())
}

/// Produces `n` order starts at full speed; returns each record's timestamp (ms), by index.
async fn produce(brokers: &str, topic: &str, n: u64, machine: &str) -> Result<(Vec<i64>, f64)> {
    let producer: FutureProducer = producer_config(brokers)
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let started = Instant::now();
    let mut stamps = Vec::with_capacity(n as usize);
    let mut pending = Pending::new();
    for i in 0..n {
        let amount = (i * 37) % 200;
        let payload = format!("{{\"id\":{i},\"amount\":{amount}}}");
        let key = format!("k{i}");
        let ts = now_ms();
        stamps.push(ts);
        let headers = OwnedHeaders::new().insert(Header {
            key: "quickstep-state-machine",
            value: Some(machine),
        });
        let record = FutureRecord::to(topic)
            .key(key.as_str())
            .payload(payload.as_str())
            .timestamp(ts)
            .headers(headers);
        enqueue(&producer, &mut pending, record).await?;
    }
    drain(&mut pending).await?;
    producer.flush(Timeout::After(Duration::from_secs(30)))?;
    Ok((stamps, n as f64 / started.elapsed().as_secs_f64()))
}

/// Reads `n` results; returns each one's (index, timestamp ms, received ms).
async fn read_results(
    brokers: &str,
    topic: &str,
    n: u64,
    limit: Duration,
) -> Result<Vec<(u64, i64, i64)>> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("bench-reader"))
        .set("enable.auto.commit", "false")
        // Committed transactions only (librdkafka's default, stated: off-eos is measured as
        // a read_committed consumer sees it).
        .set("isolation.level", "read_committed")
        .create()?;
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&list)?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut seen = vec![false; n as usize];
    let mut out = Vec::with_capacity(n as usize);
    while (out.len() as u64) < n {
        let message = match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Err(_) => bail!("only {} of {n} results within {limit:?}", out.len()),
            Ok(Err(_)) => continue,
            Ok(Ok(m)) => m,
        };
        let Some(i) = message
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .and_then(|k| k.strip_prefix('k'))
            .and_then(|k| k.parse::<u64>().ok())
        else {
            continue;
        };
        if i < n && !seen[i as usize] {
            seen[i as usize] = true;
            out.push((
                i,
                message.timestamp().to_millis().unwrap_or_default(),
                now_ms(),
            ));
        }
    }
    Ok(out)
}

async fn measure(name: &str, brokers: &str, input: &str, results: &str, n: u64) -> Result<Phase> {
    let reader = {
        let (brokers, results) = (brokers.to_owned(), results.to_owned());
        tokio::spawn(
            async move { read_results(&brokers, &results, n, Duration::from_secs(600)).await },
        )
    };
    let (stamps, produce_rate) = produce(brokers, input, n, "order").await?;
    let got = reader.await??;
    let first = *stamps.iter().min().unwrap_or(&0);
    let last = got.iter().map(|r| r.1).max().unwrap_or(first);
    let mut latencies: Vec<i64> = got
        .iter()
        .map(|(i, ts, _)| ts - stamps[*i as usize])
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let mut visible: Vec<i64> = got
        .iter()
        .map(|(i, _, received)| received - stamps[*i as usize])
        .collect();
    visible.sort_unstable();
    let seen = |q: f64| visible[((visible.len() as f64 * q) as usize).min(visible.len() - 1)];
    let phase = Phase {
        name: name.to_owned(),
        rate: n as f64 / ((last - first).max(1) as f64 / 1000.0),
        produce_rate,
        p50: at(0.50),
        p99: at(0.99),
        max: *latencies.last().unwrap_or(&0),
        visible_p50: seen(0.50),
        visible_p99: seen(0.99),
    };
    eprintln!(
        "{:<28} {:>9.0} exec/s   p50 {:>6} ms   p99 {:>6} ms   max {:>6} ms   visible p50 {:>6} ms   p99 {:>6} ms   (produced at {:.0}/s)",
        phase.name, phase.rate, phase.p50, phase.p99, phase.max, phase.visible_p50, phase.visible_p99, phase.produce_rate
    );
    Ok(phase)
}

#[derive(Clone)]
struct Topics {
    input: String,
    results: String,
    group: String,
}

async fn topics(brokers: &str, phase: &str) -> Result<Topics> {
    replicated_topics(brokers, phase, 1).await
}

/// `topics` with `replication` copies of each partition.
async fn replicated_topics(brokers: &str, phase: &str, replication: i32) -> Result<Topics> {
    configured_topics(brokers, phase, replication, &[]).await
}

/// `replicated_topics` with topic-level `config` on both.
async fn configured_topics(
    brokers: &str,
    phase: &str,
    replication: i32,
    config: &[(&str, &str)],
) -> Result<Topics> {
    let t = Topics {
        input: unique(&format!("bench-{phase}-start")),
        results: unique(&format!("bench-{phase}-results")),
        group: unique(&format!("bench-{phase}")),
    };
    create_topics(brokers, &[&t.input, &t.results], replication, config).await?;
    Ok(t)
}

/// Starts `quickstep worker` in `t.group`, reading `t.input` and writing `t.results`, with
/// the definitions in `defs`; its output goes to `defs/<t.group>-<name>.log`.
fn worker(
    quickstep: &std::path::Path,
    brokers: &str,
    defs: &std::path::Path,
    t: &Topics,
    name: &str,
    extra: &[&str],
) -> Result<Proc> {
    spawn_worker(quickstep, brokers, defs, t, name, extra, false)
}

/// `worker`; with `own_group` in a process group of its own, so that SIGSTOP on it never
/// meets an orphaned process group (whose stopped members the kernel sends SIGHUP), and a
/// terminal's Ctrl-C reaches only kafka-bench, which kills its workers as it ends.
fn spawn_worker(
    quickstep: &std::path::Path,
    brokers: &str,
    defs: &std::path::Path,
    t: &Topics,
    name: &str,
    extra: &[&str],
    own_group: bool,
) -> Result<Proc> {
    use std::os::unix::process::CommandExt as _;
    let log = std::fs::File::create(defs.join(format!("{}-{name}.log", t.group)))?;
    let mut command = Command::new(quickstep);
    if own_group {
        command.process_group(0);
    }
    let child = command
        .arg("worker")
        .args(["--brokers", brokers, "--group", &t.group])
        .args(["--definitions", &defs.display().to_string()])
        .args(["--input-topic", &t.input, "--results-topic", &t.results])
        .args(extra)
        // Workers of one run are one deployment: they share a task token key (the caller's,
        // else one for benchmarks only; no bench machine answers callbacks from outside).
        .env(
            "QUICKSTEP_TASK_TOKEN_KEY",
            std::env::var("QUICKSTEP_TASK_TOKEN_KEY")
                .unwrap_or_else(|_| "kafka-bench-task-token-key-not-a-secret".into()),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("spawning quickstep worker")?;
    Ok(Proc(child))
}

async fn run(args: RunArgs) -> Result<()> {
    let mut created = Vec::new();
    let ran = run_phases(&args, &mut created).await;
    delete_topics(&args.brokers, &created).await;
    ran
}

/// The raw passthrough (this binary in its own process), the ceiling.
async fn passthrough_phase(args: &RunArgs, created: &mut Vec<String>) -> Result<Phase> {
    let t = topics(&args.brokers, "passthrough").await?;
    created.extend([t.input.clone(), t.results.clone()]);
    let mut p = Proc(
        Command::new(std::env::current_exe()?)
            .args(["passthrough", "--brokers", &args.brokers])
            .args([
                "--input", &t.input, "--output", &t.results, "--group", &t.group,
            ])
            .args(["--max-in-flight", &args.max_in_flight.to_string()])
            .stdin(Stdio::null())
            .spawn()?,
    );
    joined(&args.brokers, &t.group, &mut p).await?;
    measure(
        "passthrough (ceiling)",
        &args.brokers,
        &t.input,
        &t.results,
        args.records,
    )
    .await
}

/// `quickstep worker` on the order machine: history OFF (`off`), the same exactly-once
/// (`off-eos`), or history ALL to a Kafka topic, one record per event (`all`) or per
/// execution (`all-execution`).
async fn worker_phase(
    args: &RunArgs,
    defs: &std::path::Path,
    phase: &str,
    created: &mut Vec<String>,
) -> Result<Phase> {
    let t = topics(&args.brokers, phase).await?;
    created.extend([t.input.clone(), t.results.clone()]);
    let history_topic = unique("bench-history");
    let history = format!("kafka:{history_topic}");
    let in_flight = args.max_in_flight.to_string();
    let mut flags = vec![
        "--max-in-flight",
        &in_flight,
        "--idempotency",
        &args.idempotency,
    ];
    let label = if phase == "all" || phase == "all-execution" {
        // The worker creates it; it goes with the rest.
        created.push(history_topic.clone());
        flags.extend(["--history", history.as_str(), "--history-level", "ALL"]);
        if phase == "all" {
            "order, history ALL → kafka"
        } else {
            flags.extend(["--history-format", "execution"]);
            "order, history ALL → kafka, per execution"
        }
    } else if phase == "off-eos" {
        flags.extend(["--delivery", "exactly-once"]);
        "order, history OFF, exactly-once"
    } else {
        "order, history OFF"
    };
    flags.extend(args.worker_args.iter().map(String::as_str));
    let mut w = worker(&args.quickstep, &args.brokers, defs, &t, phase, &flags)?;
    joined(&args.brokers, &t.group, &mut w).await?;
    measure(label, &args.brokers, &t.input, &t.results, args.records).await
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Each phase's median rate over the rounds, and, with a passthrough, each round's ratio
/// to it and their median: the figure the bar is about.
fn report_rounds(rounds: &[Vec<Phase>]) {
    let Some(first) = rounds.first() else {
        return;
    };
    for (i, phase) in first.iter().enumerate() {
        let mut rates: Vec<f64> = rounds
            .iter()
            .filter_map(|r| r.get(i))
            .map(|p| p.rate)
            .collect();
        let listed: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        let median_rate = median(&mut rates);
        let ceiling = first
            .iter()
            .position(|p| p.name.starts_with("passthrough"))
            .filter(|&c| c != i);
        let ratio = ceiling.map(|c| {
            let mut ratios: Vec<f64> = rounds
                .iter()
                .filter_map(|r| Some(100.0 * r.get(i)?.rate / r.get(c)?.rate))
                .collect();
            let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.0}%")).collect();
            format!(
                "; {:.1}% of passthrough (median; rounds: {})",
                median(&mut ratios),
                listed.join(" ")
            )
        });
        eprintln!(
            "{:<28} median {median_rate:>7.0} exec/s (rounds: {}){}",
            phase.name,
            listed.join(" "),
            ratio.unwrap_or_default()
        );
    }
}

/// With both `off` and `off-eos`: exactly-once's throughput as a share of at-least-once's,
/// round by round, and the latency it adds as a read_committed reader sees it.
fn report_exactly_once(rounds: &[Vec<Phase>]) {
    let find = |round: &Vec<Phase>, name: &str| round.iter().position(|p| p.name == name);
    let Some(first) = rounds.first() else {
        return;
    };
    let (Some(off), Some(eos)) = (
        find(first, "order, history OFF"),
        find(first, "order, history OFF, exactly-once"),
    ) else {
        return;
    };
    let mut ratios: Vec<f64> = rounds
        .iter()
        .map(|r| 100.0 * r[eos].rate / r[off].rate)
        .collect();
    let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.0}%")).collect();
    let mut p50: Vec<f64> = rounds
        .iter()
        .map(|r| (r[eos].visible_p50 - r[off].visible_p50) as f64)
        .collect();
    let mut p99: Vec<f64> = rounds
        .iter()
        .map(|r| (r[eos].visible_p99 - r[off].visible_p99) as f64)
        .collect();
    eprintln!(
        "exactly-once vs at-least-once: {:.1}% of its throughput (median; rounds: {}); visible latency added: p50 {:+.0} ms, p99 {:+.0} ms (medians)",
        median(&mut ratios),
        listed.join(" "),
        median(&mut p50),
        median(&mut p99)
    );
}

/// The phases of `run`; the names of the topics they make go to `created`.
async fn run_phases(args: &RunArgs, created: &mut Vec<String>) -> Result<()> {
    let n = args.records;
    let phases: Vec<&str> = args.phases.split(',').collect();
    let defs = std::env::temp_dir().join(unique("kafka-bench"));
    std::fs::create_dir_all(&defs)?;
    let order = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("reading {}", args.definition.display()))?;
    std::fs::write(defs.join("order.asl.json"), &order)?;
    let mut slow: serde_json::Value = serde_json::from_str(&order)?;
    let start = slow["StartAt"].clone();
    slow["States"]["Nap"] = serde_json::json!({"Type": "Wait", "Seconds": 120, "Next": start});
    slow["StartAt"] = "Nap".into();
    std::fs::write(defs.join("slow.asl.json"), slow.to_string())?;
    let in_flight = args.max_in_flight.to_string();
    eprintln!(
        "kafka-bench: {n} records per phase, broker {}, max-in-flight {in_flight}, idempotency {}",
        args.brokers, args.idempotency
    );
    let mut rounds: Vec<Vec<Phase>> = Vec::new();
    for round in 1..=args.rounds.max(1) {
        if args.rounds > 1 {
            eprintln!("round {round}");
        }
        let mut results: Vec<Phase> = Vec::new();
        if phases.contains(&"passthrough") {
            results.push(passthrough_phase(args, created).await?);
        }
        for phase in ["off", "off-eos", "all", "all-execution"] {
            if phases.contains(&phase) {
                results.push(worker_phase(args, &defs, phase, created).await?);
            }
        }
        rounds.push(results);
    }
    report_rounds(&rounds);
    report_exactly_once(&rounds);

    if phases.contains(&"memory") && args.memory_in_flight > 0 {
        let m = args.memory_in_flight;
        let t = topics(&args.brokers, "memory").await?;
        created.extend([t.input.clone(), t.results.clone()]);
        let port = args
            .memory_metrics_port
            .unwrap_or(19000 + (std::process::id() % 1000) as u16);
        let address = format!("127.0.0.1:{port}");
        let max = m.to_string();
        let mut w = worker(
            &args.quickstep,
            &args.brokers,
            &defs,
            &t,
            "memory",
            &[
                "--max-in-flight",
                &max,
                "--idempotency",
                "memory",
                "--metrics-address",
                &address,
            ],
        )?;
        joined(&args.brokers, &t.group, &mut w).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = rss_kb(w.0.id())?;
        produce(&args.brokers, &t.input, m as u64, "slow").await?;
        let deadline = Instant::now() + Duration::from_secs(100);
        loop {
            let now = scrape(&address, "quickstep_worker_executions_in_flight").unwrap_or(0.0);
            if now as usize >= m {
                break;
            }
            if Instant::now() > deadline {
                bail!("only {now} of {m} executions in flight");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let loaded = rss_kb(w.0.id())?;
        eprintln!(
            "memory: RSS idle {idle} KiB, with {m} executions in flight {loaded} KiB → {:.1} KiB per in-flight execution",
            (loaded.saturating_sub(idle)) as f64 / m as f64
        );
    }
    std::fs::remove_dir_all(&defs).ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ConsumerProtocolAssignment` (version 1) of `topics`, as the broker hands it out.
    fn assignment(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut out = 1i16.to_be_bytes().to_vec();
        out.extend((topics.len() as i32).to_be_bytes());
        for (name, partitions) in topics {
            out.extend((name.len() as i16).to_be_bytes());
            out.extend(name.as_bytes());
            out.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                out.extend(p.to_be_bytes());
            }
        }
        out.extend((-1i32).to_be_bytes()); // no user data
        out
    }

    #[test]
    fn assignments_count_their_partitions() {
        assert_eq!(
            assigned_partitions(&assignment(&[("start", &[0, 3, 5])])),
            Some(3)
        );
        assert_eq!(
            assigned_partitions(&assignment(&[("a", &[1]), ("b", &[0, 2])])),
            Some(3)
        );
        assert_eq!(assigned_partitions(&assignment(&[])), Some(0));
        let whole = assignment(&[("start", &[0, 3, 5])]);
        assert_eq!(
            assigned_partitions(&whole[..whole.len() - 9]),
            None,
            "cut short"
        );
        assert_eq!(assigned_partitions(&[]), None);
        assert_eq!(
            assigned_partitions(&[0, 1, 0xff, 0xff, 0xff, 0xff]),
            Some(0),
            "negative count"
        );
    }

    #[test]
    fn a_group_is_ready_when_every_worker_holds_partitions() {
        assert!(group_ready("Stable", 1, &[Some(6)]));
        assert!(group_ready("Stable", 3, &[Some(2), Some(2), Some(2)]));
        // The first step of an incremental rebalance: Stable, the newcomers empty-handed.
        assert!(!group_ready("Stable", 3, &[Some(2), Some(0), Some(0)]));
        assert!(!group_ready("Stable", 3, &[Some(2), Some(2), Some(0)]));
        assert!(!group_ready("PreparingRebalance", 2, &[Some(3), Some(3)]));
        assert!(
            !group_ready("Stable", 3, &[Some(3), Some(3)]),
            "a member short"
        );
        assert!(!group_ready("Stable", 1, &[Some(0)]), "nothing assigned");
        assert!(!group_ready("Stable", 1, &[None]), "unreadable assignment");
        // More workers than partitions: every partition held is enough.
        assert!(group_ready(
            "Stable",
            8,
            &[Some(1); 6]
                .iter()
                .copied()
                .chain([Some(0), Some(0)])
                .collect::<Vec<_>>()
        ));
    }
}

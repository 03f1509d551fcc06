//! `kafka-bench load`: a scenario against a real broker and N `quickstep worker`s in one
//! consumer group. Start records go out at a target rate, with record keys drawn uniformly or
//! from a Zipf distribution, a share of duplicates (an earlier record's idempotency key and
//! record key, at least a delay later, which the workers' idempotency must suppress) and values
//! padded to a size; the results topic is read back into a `report::Report`.
//!
//! An execution is numbered; its idempotency key is `<run>-<number>` (unique per run, so a
//! Redis store holding earlier runs' keys does not suppress this one's), sent in the
//! `quickstep-idempotency-key` header, while the record key (`key-<k>`) only places it on a
//! partition. A duplicate repeats both, so it lands on its original's partition, as a
//! producer's retry would.

use crate::chaos::{parse_faults, Check};
use crate::cpu::{self, Processes, Sample, Usage};
use crate::report::{self, Produced, Report, Seen};
use crate::supervise::{Spawn, Workers};
use crate::{configured_topics, producer_config, unique, wait_group, Topics};
use anyhow::{bail, Context as _, Result};
use futures::future::{join, ready, Join, Ready};
use futures::stream::FuturesUnordered;
use futures::StreamExt as _;
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};
use rand_distr::{Distribution as _, Zipf};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Header, Message as _, OwnedHeaders, Timestamp};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The Redis URL `load` uses when several workers must share one idempotency store.
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

#[derive(clap::Args, Debug)]
pub(crate) struct LoadArgs {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    /// The quickstep binary (a release build), for --workers.
    #[arg(long, default_value = "target/release/quickstep")]
    quickstep: PathBuf,
    /// The state machine, a NAME.asl.json file; start records name it NAME.
    #[arg(long, default_value = "examples/order.asl.json")]
    machine: PathBuf,
    /// Start records per second (duplicates included); 0 = as fast as the producer goes.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Start records to produce, duplicates included [default: 10000 unless --duration-s].
    #[arg(short = 'n', long)]
    records: Option<u64>,
    /// Produce for this many seconds instead of -n (needs --rate above 0).
    #[arg(long, conflicts_with = "records")]
    duration_s: Option<u64>,
    /// Distinct record keys, `key-0` … `key-<N-1>`: what places records on partitions.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// How record keys are drawn.
    #[arg(long, value_enum, default_value_t = KeyDistribution::Uniform)]
    key_distribution: KeyDistribution,
    /// The Zipf exponent s: key k (from 0) is drawn in proportion to 1/(k+1)^s.
    #[arg(long, default_value_t = 1.0)]
    zipf_exponent: f64,
    /// Share of start records that repeat an earlier record (its idempotency key and record
    /// key), 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    duplicate_ratio: f64,
    /// A duplicate goes out at least this long after its original, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    duplicate_delay_ms: u64,
    /// Bytes of each start record's value: the input JSON with a "pad" string; 0 = unpadded.
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
    /// `quickstep worker` processes to start in one consumer group; 0 = none (then name the
    /// topics running workers read and write with --start-topic and --results-topic).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// The workers' --idempotency: memory, off or redis://HOST:PORT
    /// [default: memory for one worker, redis://127.0.0.1:6379 for more].
    #[arg(long)]
    idempotency: Option<String>,
    /// --max-in-flight of each worker.
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// The start topic [default: a fresh one with 6 partitions].
    #[arg(long)]
    start_topic: Option<String>,
    /// The results topic [default: a fresh one with 6 partitions].
    #[arg(long)]
    results_topic: Option<String>,
    /// Once every execution has a result, read on this long for duplicates that ran again.
    #[arg(long, default_value_t = 3000)]
    settle_ms: u64,
    /// Stop waiting for results this long after the last record was acknowledged.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// Seed of the key and duplicate choices: the same seed and flags, the same scenario.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Share of duplicates that repeat one of the originals that most recently became old
    /// enough (about --duplicate-delay-ms old): with a Wait in the machine, the first is
    /// still running when its duplicate arrives. The rest repeat any earlier original.
    #[arg(long, default_value_t = 0.0)]
    duplicate_recent_ratio: f64,
    /// The bootstrap servers the workers use [default: --brokers]; the chaos suite points
    /// them at its fault proxy while load itself talks to the broker directly.
    #[arg(long)]
    worker_brokers: Option<String>,
    /// Replication factor of the topics load makes (3 on a three-broker cluster).
    #[arg(long, default_value_t = 1)]
    replication: i32,
    /// A file load follows while it runs, one command a line for the workers it started:
    /// `kill N` (SIGKILL), `stop N` (SIGSTOP), `cont N` (SIGCONT), `term N` (SIGTERM),
    /// `start N` (start worker N again once it has exited). Workers count from 0.
    #[arg(long)]
    control: Option<PathBuf>,
    /// Write each execution's idempotency key and first send time (epoch ms) to this file,
    /// one `KEY<TAB>MS` a line.
    #[arg(long)]
    sent_file: Option<PathBuf>,
    /// After the report, check the run: keys lost, keys answered by two different
    /// executions (split), repeats of one execution, non-SUCCEEDED results, and with
    /// --faults the time to recover after each fault. Exits non-zero if any key is lost or split.
    #[arg(long)]
    check: bool,
    /// The faults injected during the run, one `START_MS END_MS NAME` a line (epoch ms);
    /// implies --check.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Leave the topics load made (their names are printed).
    #[arg(long)]
    keep_topics: bool,
    /// The workers' --delivery: at-least-once or exactly-once. With exactly-once the check
    /// also fails on a repeated result: a read_committed reader must see each execution's
    /// result once.
    #[arg(long, default_value = "at-least-once")]
    delivery: String,
    /// Seconds of warm-up before the measured phase, at the (first) rate: the broker's JVM
    /// and the workers reach steady state; its results are read and reported apart (its own
    /// line and the JSON's "warmup"). 60 for steady-state latency; 0 = none.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// Record timestamps of the topics load makes: `create` (the producer's clock) or
    /// `append` (message.timestamp.type=LogAppendTime on the start and results topics:
    /// latency = result append − start append, the producer's queueing left out; the
    /// end-to-end latency from the producer's clock is reported beside it).
    #[arg(long, value_enum, default_value_t = Timestamps::Create)]
    timestamps: Timestamps,
    /// A rate sweep: start records/s for each step, comma-separated (`5000,10000,20000`),
    /// each step -n records or --duration-s seconds (default 20 s) against the same
    /// workers; prints offered rate → achieved, p50/p90/p99/max, and stops after the first
    /// step that saturates (results under 90% of the offered rate). --warmup runs before
    /// the first step at its rate.
    #[arg(long, conflicts_with_all = ["check", "faults", "sent_file", "control"])]
    rates: Option<String>,
    /// The broker's process id, for CPU per execution [default: the process listening on
    /// the first --brokers port on this machine].
    #[arg(long)]
    broker_pid: Option<u32>,
    /// A librdkafka setting for every worker client, KEY=VALUE (repeatable): trade-off runs
    /// of linger.ms, fetch.wait.max.ms, … (written to a worker config file's [kafka]).
    #[arg(long = "worker-kafka", value_name = "KEY=VALUE")]
    worker_kafka: Vec<String>,
    /// One more argument for every `quickstep worker` (repeatable), e.g.
    /// `--worker-arg=--profile --worker-arg=low-latency`.
    #[arg(long = "worker-arg", value_name = "ARG", allow_hyphen_values = true)]
    worker_args: Vec<String>,
}

/// Where the latency is measured from.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq)]
pub(crate) enum Timestamps {
    /// The producer's clock (the start record's create time).
    Create,
    /// The broker's append time of both the start record and the result.
    Append,
}

/// The rates of `--rates`: positive numbers, comma-separated, at least one.
pub(crate) fn parse_rates(text: &str) -> Result<Vec<u64>> {
    let rates = text
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| match r.parse::<u64>() {
            Ok(0) | Err(_) => bail!("--rates: {r:?} is not a rate above 0 (records/s)"),
            Ok(rate) => Ok(rate),
        })
        .collect::<Result<Vec<u64>>>()?;
    if rates.is_empty() {
        bail!("--rates names no rate");
    }
    Ok(rates)
}

/// The port of a `redis://[user:password@]HOST:PORT[/db]` store on this machine (loopback).
pub(crate) fn local_redis_port(url: &str) -> Option<u16> {
    let address = url.strip_prefix("redis://")?.rsplit('@').next()?;
    let (host, port) = address.split('/').next()?.rsplit_once(':')?;
    (host == "127.0.0.1" || host == "localhost").then(|| port.parse().ok())?
}

/// The worker configuration file of `--worker-kafka KEY=VALUE` settings: a `[kafka]` table.
pub(crate) fn kafka_toml(settings: &[String]) -> Result<String> {
    let mut text = String::from("[kafka]\n");
    for setting in settings {
        let Some((key, value)) = setting.split_once('=') else {
            bail!("--worker-kafka {setting:?}: not KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            bail!("--worker-kafka {setting:?}: not a librdkafka setting name");
        }
        text.push_str(&format!("{key:?} = {:?}\n", value.trim()));
    }
    Ok(text)
}

/// How record keys are drawn.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq)]
pub(crate) enum KeyDistribution {
    /// Every key equally likely.
    Uniform,
    /// Key k in proportion to 1/(k+1)^s (--zipf-exponent): a few hot keys, a long tail.
    Zipf,
}

impl Timestamps {
    /// The flag's spelling.
    fn name(self) -> &'static str {
        match self {
            Timestamps::Create => "create",
            Timestamps::Append => "append",
        }
    }
}

impl KeyDistribution {
    /// The flag's spelling.
    fn name(self) -> &'static str {
        match self {
            KeyDistribution::Uniform => "uniform",
            KeyDistribution::Zipf => "zipf",
        }
    }
}

// ------------------------------------------------------------------ the scenario (pure)

/// Draws record keys in `0..n`.
pub(crate) enum Keys {
    Uniform(u64),
    Zipf(u64, Zipf<f64>),
}

impl Keys {
    pub(crate) fn new(n: u64, distribution: KeyDistribution, exponent: f64) -> Result<Keys> {
        if n == 0 {
            bail!("--keys must be at least 1");
        }
        Ok(match distribution {
            KeyDistribution::Uniform => Keys::Uniform(n),
            KeyDistribution::Zipf => Keys::Zipf(
                n,
                Zipf::new(n as f64, exponent)
                    .map_err(|e| anyhow::anyhow!("--zipf-exponent {exponent}: {e}"))?,
            ),
        })
    }

    pub(crate) fn sample(&self, rng: &mut SmallRng) -> u64 {
        match self {
            Keys::Uniform(n) => rng.random_range(0..*n),
            // Zipf draws ranks 1..=n as floats; the clamp only guards the float's edge.
            Keys::Zipf(n, zipf) => (zipf.sample(rng) as u64).clamp(1, *n) - 1,
        }
    }
}

/// One start record to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Planned {
    /// The execution it starts (its idempotency key).
    pub execution: u64,
    /// Its record key.
    pub key: u64,
    /// Whether an earlier record already started this execution.
    pub duplicate: bool,
}

/// How many of the newest old-enough originals a "recent" duplicate is drawn from: at
/// 2,000 records/s, those that reached the delay within the last ~0.1 s.
const RECENT: usize = 256;

/// Decides each record: a new execution, or a duplicate of one sent at least `delay_ms`
/// earlier. Duplicates keep the run's share at the ratio: until the first originals are old
/// enough every record is new, then duplicates catch up (back to back) and follow the ratio.
pub(crate) struct Planner {
    keys: Keys,
    ratio: f64,
    /// Share of duplicates drawn from the newest `RECENT` old-enough originals.
    recent: f64,
    delay_ms: i64,
    rng: SmallRng,
    /// Originals not yet old enough to repeat, oldest first: (sent ms, original).
    young: VecDeque<(i64, Planned)>,
    /// Originals old enough to repeat.
    old: Vec<Planned>,
    planned: u64,
    duplicates: u64,
    executions: u64,
}

impl Planner {
    pub(crate) fn new(keys: Keys, ratio: f64, delay_ms: u64, seed: u64) -> Planner {
        Planner {
            keys,
            ratio,
            recent: 0.0,
            delay_ms: delay_ms as i64,
            rng: SmallRng::seed_from_u64(seed),
            young: VecDeque::new(),
            old: Vec::new(),
            planned: 0,
            duplicates: 0,
            executions: 0,
        }
    }

    /// Draws `share` of the duplicates from the originals that most recently became old
    /// enough to repeat, so they meet their original still running.
    pub(crate) fn recent(mut self, share: f64) -> Planner {
        self.recent = share;
        self
    }

    /// The record to send at `now_ms`.
    pub(crate) fn next(&mut self, now_ms: i64) -> Planned {
        while let Some((sent, original)) = self.young.front().copied() {
            if now_ms - sent < self.delay_ms {
                break;
            }
            self.young.pop_front();
            self.old.push(original);
        }
        self.planned += 1;
        let owed = (self.duplicates as f64) < self.ratio * self.planned as f64;
        if owed && !self.old.is_empty() {
            let from = if self.recent > 0.0 && self.rng.random_bool(self.recent.clamp(0.0, 1.0)) {
                self.old.len().saturating_sub(RECENT)
            } else {
                0
            };
            let original = self.old[self.rng.random_range(from..self.old.len())];
            self.duplicates += 1;
            return Planned {
                duplicate: true,
                ..original
            };
        }
        let planned = Planned {
            execution: self.executions,
            key: self.keys.sample(&mut self.rng),
            duplicate: false,
        };
        self.executions += 1;
        self.young.push_back((now_ms, planned));
        planned
    }
}

/// The start record's value: the order machine's input, `{"id", "amount"}`, padded with a
/// `"pad"` string to exactly `bytes` bytes when that is at least the padded minimum.
pub(crate) fn payload(execution: u64, bytes: usize) -> String {
    let amount = (execution * 37) % 200;
    let bare = format!("{{\"id\":{execution},\"amount\":{amount}}}");
    const PAD: &str = ",\"pad\":\"\"";
    let minimum = bare.len() + PAD.len();
    if bytes < minimum {
        return bare;
    }
    let mut out = String::with_capacity(bytes);
    out.push_str(&bare[..bare.len() - 1]);
    out.push_str(",\"pad\":\"");
    out.extend(std::iter::repeat_n('x', bytes - minimum));
    out.push_str("\"}");
    out
}

/// When record `index` is due after the start at `per_second` (None: not paced).
pub(crate) fn due(index: u64, per_second: u64) -> Option<Duration> {
    (per_second > 0)
        .then(|| Duration::from_nanos((index as u128 * 1_000_000_000 / per_second as u128) as u64))
}

/// The execution number in one of this run's idempotency keys (`<run>-<number>`).
fn execution_of(idempotency_key: &str, run: &str) -> Option<u64> {
    idempotency_key
        .strip_prefix(run)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

// ------------------------------------------------------------------ the run

/// Deliveries not yet acknowledged, each with its execution (None: a duplicate).
type Acks = FuturesUnordered<Join<Ready<Option<u64>>, DeliveryFuture>>;

/// Takes one acknowledgement; with append timestamps, keeps the original's append time.
fn acknowledged(
    produced: &mut Produced,
    append: bool,
    (execution, delivery): (Option<u64>, <DeliveryFuture as std::future::Future>::Output),
) -> Result<()> {
    let delivery = delivery?.map_err(|(e, _)| e)?;
    if let (true, Some(execution)) = (append, execution) {
        match delivery.timestamp {
            Timestamp::LogAppendTime(ms) => {
                produced.append_ms.insert(execution, ms);
            }
            other => bail!(
                "--timestamps append: the start topic stamped a record {other:?}, not at its append time (create it with message.timestamp.type=LogAppendTime, as load does with the topics it makes)"
            ),
        }
    }
    Ok(())
}

/// How long and how fast one phase produces.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// Records per second; 0 = as fast as the producer goes.
    rate: u64,
    /// Records to send (None: for `duration`).
    records: Option<u64>,
    duration: Option<Duration>,
}

/// Produces one phase of the scenario under `run`'s idempotency keys; returns what went out.
async fn produce(
    args: &LoadArgs,
    producer: &FutureProducer,
    topic: &str,
    machine: &str,
    run: &str,
    pace: Pace,
) -> Result<Produced> {
    let append = args.timestamps == Timestamps::Append;
    let keys = Keys::new(args.keys, args.key_distribution, args.zipf_exponent)?;
    let mut planner = Planner::new(
        keys,
        args.duplicate_ratio,
        args.duplicate_delay_ms,
        args.seed,
    )
    .recent(args.duplicate_recent_ratio);
    let limit = match (pace.records, pace.duration) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(10_000),
    };
    let end = pace.duration.map(|d| Instant::now() + d);
    let mut produced = Produced::default();
    let mut pending = Acks::new();
    let started = Instant::now();
    let mut index = 0u64;
    loop {
        if limit.is_some_and(|n| index >= n) || end.is_some_and(|end| Instant::now() >= end) {
            break;
        }
        if let Some(due) = due(index, pace.rate) {
            // Wait for the record's time, collecting acknowledgements meanwhile.
            let at = started + due;
            while Instant::now() < at {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    Some(done) = pending.next(), if !pending.is_empty() => {
                        acknowledged(&mut produced, append, done)?;
                    }
                }
            }
        }
        let ts = crate::now_ms();
        let planned = planner.next(ts);
        let idempotency_key = format!("{run}-{}", planned.execution);
        let key = format!("key-{}", planned.key);
        let value = payload(planned.execution, args.payload_bytes);
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "quickstep-state-machine",
                value: Some(machine),
            })
            .insert(Header {
                key: "quickstep-idempotency-key",
                value: Some(&idempotency_key),
            });
        let mut record = FutureRecord::to(topic)
            .key(key.as_str())
            .payload(value.as_str())
            .timestamp(ts)
            .headers(headers);
        let execution = (!planned.duplicate).then_some(planned.execution);
        loop {
            match producer.send_result(record) {
                Ok(future) => {
                    pending.push(join(ready(execution), future));
                    break;
                }
                Err((_, back)) => {
                    record = back;
                    // Queue full: let deliveries drain.
                    if let Some(done) = pending.next().await {
                        acknowledged(&mut produced, append, done)?;
                    }
                }
            }
        }
        produced.records += 1;
        if planned.duplicate {
            produced.duplicates += 1;
        } else {
            produced.sent_ms.insert(planned.execution, ts);
        }
        index += 1;
    }
    produced.send_seconds = started.elapsed().as_secs_f64();
    while let Some(done) = pending.next().await {
        acknowledged(&mut produced, append, done)?;
    }
    producer.flush(Timeout::After(Duration::from_secs(30)))?;
    produced.seconds = started.elapsed().as_secs_f64();
    Ok(produced)
}

/// A reader of one phase's results, assigned from the results topic's end as the phase
/// starts (so a later phase does not read an earlier one's results again).
struct Reading {
    task: tokio::task::JoinHandle<Result<(Vec<Seen>, Option<Sample>)>>,
    /// The phase's executions, sent once it has produced them all.
    expected: watch::Sender<Option<u64>>,
}

/// Starts reading `run`'s results; returns once the reader is assigned. With `processes`,
/// the reader samples their CPU the moment every expected execution has a result.
async fn start_reading(
    args: &LoadArgs,
    results: &str,
    run: &str,
    settle: Duration,
    processes: Option<Processes>,
) -> Result<Reading> {
    let (expected, receiver) = watch::channel(None);
    let (assigned, ready) = tokio::sync::oneshot::channel();
    let (brokers, results, run) = (args.brokers.clone(), results.to_owned(), run.to_owned());
    let limit = Duration::from_secs(args.timeout_s);
    let task = tokio::spawn(async move {
        read(
            &brokers, &results, &run, receiver, settle, limit, assigned, processes,
        )
        .await
    });
    if ready.await.is_err() {
        // The reader ended before it was assigned: its error says why.
        task.await??;
        bail!("the results reader ended before it was assigned");
    }
    Ok(Reading { task, expected })
}

/// Reads results of this run until every execution in `expected` (sent once production
/// ends) has one and `settle` has passed, or `limit` after that.
#[allow(clippy::too_many_arguments)]
async fn read(
    brokers: &str,
    topic: &str,
    run: &str,
    mut expected: watch::Receiver<Option<u64>>,
    settle: Duration,
    limit: Duration,
    assigned: tokio::sync::oneshot::Sender<()>,
    processes: Option<Processes>,
) -> Result<(Vec<Seen>, Option<Sample>)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("load-reader"))
        .set("enable.auto.commit", "false")
        // Latency is read from the records' timestamps, never from when they arrive here, so
        // the reader fetches in large batches: a fetch per result batch cost this process and
        // the broker CPU taken from the processes measured.
        .set("fetch.min.bytes", "1000000")
        .set("fetch.wait.max.ms", "100")
        // Committed transactions only (librdkafka's default, stated): under --delivery
        // exactly-once the check reads what a read_committed consumer sees.
        .set("isolation.level", "read_committed")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut list = TopicPartitionList::new();
    // From the end as this phase starts (its high watermarks): earlier phases' results are
    // not read again; results of other runs still in flight are skipped by their keys.
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (_, high) =
            consumer.fetch_watermarks(topic, partition.id(), Duration::from_secs(10))?;
        list.add_partition_offset(topic, partition.id(), Offset::Offset(high))?;
    }
    if list.count() == 0 {
        bail!("results topic {topic} has no partitions");
    }
    consumer.assign(&list)?;
    assigned.send(()).ok();
    let mut complete: Option<Sample> = None;
    let mut seen = Vec::new();
    let mut distinct = HashSet::new();
    let mut deadline: Option<Instant> = None;
    let mut settled: Option<Instant> = None;
    loop {
        if deadline.is_none() {
            if let Some(n) = *expected.borrow() {
                deadline = Some(Instant::now() + limit);
                if distinct.len() as u64 >= n {
                    settled = Some(Instant::now() + settle);
                    complete = processes.as_ref().map(Processes::sample);
                }
            }
        }
        let stop = match (settled, deadline) {
            (Some(s), Some(d)) => s.min(d),
            (None, Some(d)) => d,
            (Some(s), None) => s,
            // Production goes on: no deadline yet.
            (None, None) => Instant::now() + Duration::from_secs(3600),
        };
        let message = tokio::select! {
            _ = tokio::time::sleep_until(stop) => {
                if settled.is_some() || deadline.is_some() {
                    break;
                }
                continue;
            }
            changed = expected.changed(), if deadline.is_none() => {
                changed.ok();
                continue;
            }
            message = consumer.recv() => message,
        };
        let Ok(message) = message else { continue };
        let timestamp_ms = message.timestamp().to_millis().unwrap_or_default();
        let Some(result) = message
            .payload()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
            .and_then(|result| parse_result(&result, run, timestamp_ms))
        else {
            continue;
        };
        distinct.insert(result.execution);
        seen.push(result);
        if settled.is_none()
            && expected
                .borrow()
                .is_some_and(|n| distinct.len() as u64 >= n)
        {
            settled = Some(Instant::now() + settle);
            complete = processes.as_ref().map(Processes::sample);
        }
    }
    Ok((seen, complete))
}

/// One of this run's results, from its proto3 JSON (`quickstep.v1.ExecutionResult`).
fn parse_result(result: &serde_json::Value, run: &str, timestamp_ms: i64) -> Option<Seen> {
    let execution = execution_of(result["idempotencyKey"].as_str()?, run)?;
    Some(Seen {
        execution,
        timestamp_ms,
        status: result["status"].as_str().unwrap_or("UNKNOWN").to_owned(),
        error: result["error"].as_str().map(str::to_owned),
        // proto3 JSON leaves out default values: no partition in a source is partition 0.
        partition: result
            .get("source")
            .map(|source| source["partition"].as_i64().unwrap_or(0)),
        arn: result["executionArn"].as_str().map(str::to_owned),
    })
}

/// The definition's name: `order` for `examples/order.asl.json`.
fn machine_name(path: &Path) -> Result<String> {
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .context("--machine names no file")?;
    Ok(file
        .strip_suffix(".asl.json")
        .or_else(|| file.strip_suffix(".json"))
        .unwrap_or(file)
        .to_owned())
}

pub(crate) async fn run(args: LoadArgs) -> Result<()> {
    let mut created = Vec::new();
    // SIGINT or SIGTERM ends the run early; its workers die as the runtime drops them.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ran = tokio::select! {
        ran = run_scenario(&args, &mut created) => ran,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        _ = terminate.recv() => Err(anyhow::anyhow!("terminated")),
    };
    if args.keep_topics {
        if !created.is_empty() {
            eprintln!("load: kept topics {}", created.join(" "));
        }
    } else {
        crate::delete_topics(&args.brokers, &created).await;
    }
    ran
}

/// Writes each execution's idempotency key and first send time, in execution order.
fn write_sent(path: &Path, run: &str, produced: &Produced) -> Result<()> {
    let mut sent: Vec<(&u64, &i64)> = produced.sent_ms.iter().collect();
    sent.sort_unstable();
    let mut text = String::with_capacity(sent.len() * 32);
    for (execution, ms) in sent {
        text.push_str(&format!("{run}-{execution}\t{ms}\n"));
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The scenario of `run`; the names of the topics it makes go to `created` (never the
/// ones given with `--start-topic`/`--results-topic`).
async fn run_scenario(args: &LoadArgs, created: &mut Vec<String>) -> Result<()> {
    if !(0.0..=1.0).contains(&args.duplicate_ratio) {
        bail!("--duplicate-ratio must be between 0 and 1");
    }
    if !(0.0..=1.0).contains(&args.duplicate_recent_ratio) {
        bail!("--duplicate-recent-ratio must be between 0 and 1");
    }
    if args.control.is_some() && args.workers == 0 {
        bail!("--control needs workers that load starts (--workers above 0)");
    }
    if args.duration_s.is_some() && args.rate == 0 {
        bail!("--duration-s needs --rate above 0");
    }
    if args.workers == 0 && (args.start_topic.is_none() || args.results_topic.is_none()) {
        bail!("--workers 0 needs --start-topic and --results-topic of running workers");
    }
    let idempotency = match (&args.idempotency, args.workers) {
        (Some(store), _) => store.clone(),
        (None, 0 | 1) => "memory".to_owned(),
        (None, _) => {
            eprintln!(
                "load: {} workers: idempotency {DEFAULT_REDIS} (a memory store dedupes within one worker only; --idempotency to change)",
                args.workers
            );
            DEFAULT_REDIS.to_owned()
        }
    };
    if args.workers > 1 && idempotency == "memory" {
        eprintln!("load: memory idempotency with {} workers: a duplicate whose partition moved to another worker runs again", args.workers);
    }
    // Flags that cannot work fail before anything is made.
    let rates = match &args.rates {
        Some(text) => parse_rates(text)?,
        None => vec![args.rate],
    };
    let worker_kafka = kafka_toml(&args.worker_kafka)?;
    let machine = machine_name(&args.machine)?;
    let definition = std::fs::read_to_string(&args.machine)
        .with_context(|| format!("reading {}", args.machine.display()))?;
    let run = unique("load");
    let scratch = std::env::temp_dir().join(&run);
    std::fs::create_dir_all(&scratch)?;
    std::fs::write(scratch.join(format!("{machine}.asl.json")), definition)?;

    let t = match (&args.start_topic, &args.results_topic) {
        (Some(input), Some(results)) => Topics {
            input: input.clone(),
            results: results.clone(),
            group: unique("bench-load"),
        },
        (input, results) => {
            let config: &[(&str, &str)] = match args.timestamps {
                Timestamps::Append => &[("message.timestamp.type", "LogAppendTime")],
                Timestamps::Create => &[],
            };
            let mut t = configured_topics(&args.brokers, "load", args.replication, config).await?;
            created.extend([t.input.clone(), t.results.clone()]);
            t.input = input.clone().unwrap_or(t.input);
            t.results = results.clone().unwrap_or(t.results);
            t
        }
    };
    let mut extra = args.worker_args.clone();
    if !args.worker_kafka.is_empty() {
        let path = scratch.join("worker-kafka.toml");
        std::fs::write(&path, &worker_kafka)?;
        extra.extend(["--config".to_owned(), path.display().to_string()]);
    }
    let spawn: Spawn = {
        let quickstep = args.quickstep.clone();
        let brokers = args
            .worker_brokers
            .clone()
            .unwrap_or_else(|| args.brokers.clone());
        let (scratch, t, idempotency) = (scratch.clone(), t.clone(), idempotency.clone());
        let in_flight = args.max_in_flight.to_string();
        let delivery = args.delivery.clone();
        let controlled = args.control.is_some();
        let extra = extra.clone();
        Box::new(move |index, generation| {
            let name = match generation {
                0 => format!("worker-{index}"),
                g => format!("worker-{index}.{g}"),
            };
            let mut flags = vec![
                "--max-in-flight",
                &in_flight,
                "--idempotency",
                &idempotency,
                "--delivery",
                &delivery,
            ];
            flags.extend(extra.iter().map(String::as_str));
            crate::spawn_worker(
                &quickstep, &brokers, &scratch, &t, &name, &flags, controlled,
            )
        })
    };
    let mut workers = (0..args.workers)
        .map(|i| spawn(i, 0))
        .collect::<Result<Vec<_>>>()?;
    if !workers.is_empty() {
        wait_group(
            &args.brokers,
            &t.group,
            workers.len(),
            Duration::from_secs(90),
            &mut workers,
        )
        .await
        .with_context(|| format!("worker logs in {}", scratch.display()))?;
    }
    let processes = Processes {
        workers: workers.iter().map(|w| w.0.id()).collect(),
        broker: args
            .broker_pid
            .or_else(|| cpu::first_port(&args.brokers).and_then(cpu::listener_pid)),
        redis: local_redis_port(&idempotency).and_then(cpu::listener_pid),
        redis_url: local_redis_port(&idempotency).map(|_| idempotency.clone()),
        ticks_per_second: cpu::ticks_per_second(),
    };
    eprintln!(
        "load: CPU measured for workers {:?}, broker {}, redis {}",
        processes.workers,
        processes
            .broker
            .map_or("(not found: --broker-pid)".to_owned(), |pid| pid
                .to_string()),
        processes
            .redis
            .map_or("(none here)".to_owned(), |pid| pid.to_string())
    );
    let (stop, stopped) = watch::channel(false);
    let supervisor =
        tokio::spawn(Workers::new(workers, spawn).supervise(args.control.clone(), stopped));
    eprintln!(
        "load: {} → {}, machine {machine}, {} workers, idempotency {idempotency}, rate {}/s, keys {} {}, duplicates {} (≥ {} ms later), payload {} bytes",
        t.input,
        t.results,
        args.workers,
        args.rate,
        args.keys,
        args.key_distribution.name(),
        args.duplicate_ratio,
        args.duplicate_delay_ms,
        args.payload_bytes,
    );

    let producer: FutureProducer = producer_config(&args.brokers)
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let pace = |rate: u64| Pace {
        rate,
        records: args.records,
        duration: args
            .duration_s
            .or((args.rates.is_some() && args.records.is_none()).then_some(20))
            .map(Duration::from_secs),
    };
    // The warm-up: at the first rate, read apart; the measured phase follows without a gap.
    let warmup = if args.warmup > 0 {
        let warm_run = format!("{run}-w");
        let reading = start_reading(args, &t.results, &warm_run, Duration::ZERO, None).await?;
        eprintln!("load: warming up for {} s at {}/s", args.warmup, rates[0]);
        let produced = produce(
            args,
            &producer,
            &t.input,
            &machine,
            &warm_run,
            Pace {
                rate: rates[0],
                records: None,
                duration: Some(Duration::from_secs(args.warmup)),
            },
        )
        .await?;
        reading
            .expected
            .send(Some(produced.sent_ms.len() as u64))
            .ok();
        Some((produced, reading.task))
    } else {
        None
    };
    let settle = Duration::from_millis(args.settle_ms);
    // The measured phase: one step, or one per rate of the sweep.
    let mut steps: Vec<(u64, Produced, Vec<Seen>, Option<Usage>)> = Vec::new();
    for (i, &rate) in rates.iter().enumerate() {
        let step_run = match args.rates {
            Some(_) => format!("{run}-s{i}"),
            None => run.clone(),
        };
        let reading =
            start_reading(args, &t.results, &step_run, settle, Some(processes.clone())).await?;
        let before = processes.sample();
        let produced = produce(args, &producer, &t.input, &machine, &step_run, pace(rate)).await?;
        eprintln!(
            "load: produced {} records in {:.1} s at {rate}/s; reading results",
            produced.records, produced.seconds
        );
        reading
            .expected
            .send(Some(produced.sent_ms.len() as u64))
            .ok();
        if let Some(path) = &args.sent_file {
            write_sent(path, &run, &produced)?;
        }
        let (seen, after) = reading.task.await??;
        let report = Report::new(&produced, &seen);
        let usage = after.map(|after| {
            cpu::usage(
                &before,
                &after,
                processes.ticks_per_second,
                report.executions_with_result,
            )
        });
        let saturated = args.rates.is_some() && report::saturated(rate, &report);
        if args.rates.is_some() {
            let headline = report.headline();
            eprintln!(
                "load: {rate}/s → {:.0} executions/s, p99 {} ms{}",
                report.executions_per_second,
                headline.map_or("-".to_owned(), |l| l.p99.to_string()),
                if saturated {
                    ": saturated, the sweep ends"
                } else {
                    ""
                }
            );
        }
        steps.push((rate, produced, seen, usage));
        if saturated {
            break;
        }
    }
    stop.send(true).ok();
    let workers = supervisor.await?;
    let worker_events = workers.events.clone();
    drop(workers);
    let warmup = match warmup {
        Some((produced, task)) => {
            let (seen, _) = task.await??;
            Some(Report::new(&produced, &seen))
        }
        None => None,
    };
    let (rate, produced, seen, usage) = steps.last().context("no measured phase")?;
    let report = Report::new(produced, seen);
    if let Some(warm) = &warmup {
        println!("{}", warm.summary("warm-up"));
    }
    for line in report.lines() {
        println!("{line}");
    }
    if let Some(usage) = usage {
        println!("{}", usage.line());
        for line in [usage.persistence_line(), usage.machine_line()]
            .into_iter()
            .flatten()
        {
            println!("{line}");
        }
    }
    let sweep: Vec<(u64, Report)> = steps
        .iter()
        .map(|(rate, produced, seen, _)| (*rate, Report::new(produced, seen)))
        .collect();
    if args.rates.is_some() {
        for line in report::sweep_table(&sweep) {
            println!("{line}");
        }
    }
    let mut json = report.json();
    json["scenario"] = serde_json::json!({
        "rate": rate, "workers": args.workers, "idempotency": idempotency,
        "keys": args.keys, "key_distribution": args.key_distribution.name(),
        "zipf_exponent": args.zipf_exponent, "duplicate_ratio": args.duplicate_ratio,
        "duplicate_delay_ms": args.duplicate_delay_ms, "payload_bytes": args.payload_bytes,
        "machine": machine, "max_in_flight": args.max_in_flight,
        "duplicate_recent_ratio": args.duplicate_recent_ratio, "replication": args.replication,
        "warmup_s": args.warmup, "timestamps": args.timestamps.name(),
        "worker_kafka": args.worker_kafka, "worker_args": args.worker_args,
    });
    json["warmup"] = warmup
        .as_ref()
        .map_or(serde_json::Value::Null, Report::json);
    json["cpu"] = usage.as_ref().map_or(serde_json::Value::Null, Usage::json);
    if args.rates.is_some() {
        let mut table = report::sweep_json(&sweep);
        for (row, (_, _, _, usage)) in table.as_array_mut().into_iter().flatten().zip(&steps) {
            row["cpu"] = usage.as_ref().map_or(serde_json::Value::Null, Usage::json);
        }
        json["sweep"] = table;
    }
    json["worker_events"] = serde_json::json!(worker_events);
    println!("{json}");
    let keep_logs = !worker_events.is_empty();
    let mut passed = true;
    if args.check || args.faults.is_some() {
        let faults = match &args.faults {
            Some(path) => parse_faults(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            )?,
            None => Vec::new(),
        };
        let mut check = Check::new(&produced.sent_ms, seen, &faults);
        check.repeats_fail = args.delivery == "exactly-once";
        let first_sent = produced.sent_ms.values().min().copied().unwrap_or(0);
        for line in check.lines(first_sent) {
            println!("{line}");
        }
        println!("{}", serde_json::json!({ "check": check.json() }));
        passed = check.passed();
    }
    if keep_logs || !passed {
        eprintln!("load: worker logs kept in {}", scratch.display());
    } else {
        std::fs::remove_dir_all(&scratch).ok();
    }
    if !passed {
        bail!("the check failed: keys lost or split, or (exactly-once) results repeated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(1)
    }

    #[test]
    fn uniform_keys_cover_the_range_and_stay_in_it() {
        let keys = Keys::new(10, KeyDistribution::Uniform, 1.0).expect("keys");
        let mut rng = rng();
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            counts[keys.sample(&mut rng) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }

    #[test]
    fn zipf_keys_stay_in_range_and_favour_the_first() {
        let keys = Keys::new(1000, KeyDistribution::Zipf, 1.2).expect("keys");
        let mut rng = rng();
        let mut counts = vec![0u32; 1000];
        for _ in 0..50_000 {
            let key = keys.sample(&mut rng);
            assert!(key < 1000, "{key}");
            counts[key as usize] += 1;
        }
        // P(k=0)/P(k=1) = 2^1.2 ≈ 2.3; key 0 alone takes about a quarter of the draws
        // (1/H(1000, 1.2) ≈ 0.25), a uniform draw would give it 0.1%.
        assert!(
            counts[0] > counts[1] && counts[1] > counts[9],
            "{:?}",
            &counts[..10]
        );
        assert!((10_000..15_000).contains(&counts[0]), "{}", counts[0]);
        assert!(counts[0] as f64 / counts[1] as f64 > 1.9);
        let one = Keys::new(1, KeyDistribution::Zipf, 1.0).expect("keys");
        assert!((0..100).all(|_| one.sample(&mut rng) == 0));
        assert!(Keys::new(0, KeyDistribution::Uniform, 1.0).is_err());
        assert!(Keys::new(5, KeyDistribution::Zipf, -1.0).is_err());
    }

    /// Plans `n` records sent `step_ms` apart.
    fn plan(ratio: f64, delay_ms: u64, n: u64, step_ms: i64) -> Vec<(i64, Planned)> {
        let keys = Keys::new(100, KeyDistribution::Uniform, 1.0).expect("keys");
        let mut planner = Planner::new(keys, ratio, delay_ms, 3);
        (0..n)
            .map(|i| {
                let at = i as i64 * step_ms;
                (at, planner.next(at))
            })
            .collect()
    }

    #[test]
    fn duplicates_repeat_an_original_at_least_the_delay_later() {
        // 10,000 records 1 ms apart, 10% duplicates at least 2 s later.
        let records = plan(0.10, 2000, 10_000, 1);
        let mut originals = std::collections::HashMap::new();
        let mut duplicates = 0;
        for (at, planned) in &records {
            if planned.duplicate {
                duplicates += 1;
                let (sent, key) = originals[&planned.execution];
                assert!(at - sent >= 2000, "{planned:?} at {at}, original at {sent}");
                assert_eq!(
                    planned.key, key,
                    "a duplicate keeps its original's record key"
                );
            } else {
                assert!(
                    originals
                        .insert(planned.execution, (*at, planned.key))
                        .is_none(),
                    "execution numbers are new"
                );
            }
        }
        assert_eq!(duplicates, 1000, "the ratio, caught up after the first 2 s");
        assert_eq!(originals.len(), 9000);
        let numbers: Vec<u64> = (0..9000).collect();
        let mut seen: Vec<u64> = originals.keys().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, numbers, "executions are numbered 0, 1, 2, …");
        assert!(
            records[..2000].iter().all(|(_, p)| !p.duplicate),
            "nothing is old enough in the first 2 s"
        );
    }

    #[test]
    fn no_duplicates_at_ratio_zero_and_all_but_the_first_at_one() {
        assert!(plan(0.0, 0, 1000, 1).iter().all(|(_, p)| !p.duplicate));
        let all = plan(1.0, 0, 1000, 1);
        assert!(!all[0].1.duplicate);
        assert!(all[1..]
            .iter()
            .all(|(_, p)| p.duplicate && p.execution == 0));
    }

    #[test]
    fn payloads_have_the_exact_size() {
        for execution in [0, 7, 123_456_789] {
            let bare = payload(execution, 0);
            let value: serde_json::Value = serde_json::from_str(&bare).expect("JSON");
            assert_eq!(value["id"], execution);
            let minimum = bare.len() + ",\"pad\":\"\"".len();
            for bytes in [minimum, minimum + 1, 1000, 4096, 262_144, 300_000] {
                let text = payload(execution, bytes);
                assert_eq!(text.len(), bytes, "{execution} at {bytes}");
                let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                assert_eq!(value["id"], execution);
                assert_eq!(value["amount"], (execution * 37) % 200);
            }
            assert_eq!(payload(execution, minimum - 1), bare, "too small to pad");
        }
    }

    #[test]
    fn records_are_due_at_the_rate() {
        assert_eq!(due(0, 5000), Some(Duration::ZERO));
        assert_eq!(due(1, 5000), Some(Duration::from_micros(200)));
        assert_eq!(due(5000, 5000), Some(Duration::from_secs(1)));
        assert_eq!(due(20_000, 5000), Some(Duration::from_secs(4)));
        assert_eq!(due(7, 0), None);
    }

    #[test]
    fn results_parse_with_proto3_defaults_left_out() {
        let on_zero = serde_json::json!({"status": "SUCCEEDED", "idempotencyKey": "run-1-5",
            "source": {"topic": "t", "offset": "3"}});
        let seen = parse_result(&on_zero, "run-1", 42).expect("this run's");
        assert_eq!(seen.execution, 5);
        assert_eq!(seen.partition, Some(0));
        assert_eq!(seen.timestamp_ms, 42);
        let failed = serde_json::json!({"status": "FAILED", "error": "States.DataLimitExceeded",
            "idempotencyKey": "run-1-6", "source": {"partition": 4}});
        let seen = parse_result(&failed, "run-1", 0).expect("this run's");
        assert_eq!(seen.partition, Some(4));
        assert_eq!(seen.error.as_deref(), Some("States.DataLimitExceeded"));
        assert!(parse_result(&failed, "run-2", 0).is_none());
    }

    #[test]
    fn results_are_matched_to_this_run_only() {
        assert_eq!(execution_of("load-1-2-17", "load-1-2"), Some(17));
        assert_eq!(execution_of("load-1-3-17", "load-1-2"), None);
        assert_eq!(execution_of("load-1-2x17", "load-1-2"), None);
        assert_eq!(
            machine_name(Path::new("examples/order.asl.json")).expect("name"),
            "order"
        );
    }

    #[test]
    fn sweep_rates_parse_and_nonsense_is_refused() {
        assert_eq!(
            parse_rates("5000,10000, 20000").expect("rates"),
            vec![5000, 10_000, 20_000]
        );
        assert_eq!(parse_rates("7").expect("one rate"), vec![7]);
        assert_eq!(
            parse_rates("1000,,2000,").expect("empty items skipped"),
            vec![1000, 2000]
        );
        for bad in ["", ",", "0", "1000,0", "10k", "-5", "1.5"] {
            let error = parse_rates(bad).expect_err(bad).to_string();
            assert!(error.starts_with("--rates"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_local_redis_is_found_by_its_port() {
        assert_eq!(local_redis_port("redis://127.0.0.1:19302"), Some(19302));
        assert_eq!(
            local_redis_port("redis://:secret@localhost:6379/2"),
            Some(6379)
        );
        assert_eq!(
            local_redis_port("redis://redis.example:6379"),
            None,
            "not here"
        );
        assert_eq!(local_redis_port("memory"), None);
        assert_eq!(local_redis_port("redis://127.0.0.1"), None, "no port");
    }

    #[test]
    fn worker_kafka_settings_become_a_kafka_table() {
        let text = kafka_toml(&[
            "linger.ms=1".to_owned(),
            " fetch.wait.max.ms = 10 ".to_owned(),
        ])
        .expect("settings");
        assert_eq!(
            text,
            "[kafka]\n\"linger.ms\" = \"1\"\n\"fetch.wait.max.ms\" = \"10\"\n"
        );
        assert_eq!(kafka_toml(&[]).expect("none"), "[kafka]\n");
        assert!(kafka_toml(&["linger.ms".to_owned()]).is_err(), "no value");
        assert!(kafka_toml(&["=1".to_owned()]).is_err(), "no name");
        assert!(kafka_toml(&["a\"]=1".to_owned()]).is_err(), "not a name");
    }
}

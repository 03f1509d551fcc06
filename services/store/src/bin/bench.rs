//! `store-bench`: the execution store's numbers on one core, with no Kafka and no quickstep —
//! ingest (decode + apply) of result and history records as the wire carries them, then query
//! latency (list pages, one execution, one history) over a store filled to `--executions`,
//! `--histories` of them with full histories.
//!
//!     cargo run --release -p store --no-default-features --bin store-bench -- \
//!         --executions 10000000 --histories 1000000 --path /tmp/store-bench.db
//!
//! With `--kafka BROKERS` (and the default `kafka` feature) it measures ingest from Kafka
//! instead, through the gateway's own reader (see `bench/kafka.rs`):
//!
//!     cargo run --release -p store --bin store-bench -- --kafka 127.0.0.1:9092 \
//!         --ingest-results 1000000 --ingest-histories 200000

use clap::Parser;
use quickstep_proto::v1::execution_result::Status as WireStatus;
use quickstep_proto::v1::{BillingDetails, ExecutionResult, Source};
use quickstep_proto::wkt::Timestamp;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use store::record::{decode_event, decode_result};
use store::{Cursor, EventRecord, Filter, Record, ResultRecord, Retention, Status, Store};

#[derive(Parser)]
struct Args {
    /// Executions in the store when queries are measured.
    #[arg(long, default_value_t = 1_000_000)]
    executions: u64,
    /// How many of them have a full history.
    #[arg(long, default_value_t = 100_000)]
    histories: u64,
    /// Events per history.
    #[arg(long, default_value_t = 10)]
    events: u64,
    /// Result records decoded and applied in the ingest measurement.
    #[arg(long, default_value_t = 200_000)]
    ingest_results: u64,
    /// Executions whose history records are decoded and applied in the ingest measurement.
    #[arg(long, default_value_t = 50_000)]
    ingest_histories: u64,
    /// The database file (emptied first); in memory when absent.
    #[arg(long)]
    path: Option<PathBuf>,
    /// Queries of each kind.
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Measure ingest from Kafka at these brokers instead: `--ingest-results` result
    /// records and `--ingest-histories` histories are produced into fresh topics and read
    /// back by the gateway's store reader.
    #[arg(long, value_name = "BROKERS")]
    kafka: Option<String>,
    /// Partitions of the topics `--kafka` creates.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Name executions in a scrambled order, as the gateway's random UUID names arrive,
    /// instead of `exec-000000001`, `exec-000000002`, …, and key each by its name (as
    /// StartExecution does): every insert into a look-up index then lands at a random
    /// place rather than at the end.
    #[arg(long)]
    scrambled_names: bool,
}

/// Set once from `--scrambled-names` at the top of `main`, before any name is made, and
/// never changed: the name functions below are called from many places, the Kafka mode's
/// among them.
static SCRAMBLED_NAMES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Execution `i`'s idempotency key: `key-{i}`, or with `--scrambled-names` its name, as
/// the gateway's StartExecution keys a start record.
fn key(i: u64) -> String {
    if *SCRAMBLED_NAMES.get().unwrap_or(&false) {
        name(i)
    } else {
        format!("key-{i}")
    }
}

/// Execution `i`'s name: `exec-{i:09}`, or with `--scrambled-names` a 16-digit hash of `i`
/// first, so names sort in no relation to their arrival (still unique: the hash is a
/// bijection on u64).
fn name(i: u64) -> String {
    if *SCRAMBLED_NAMES.get().unwrap_or(&false) {
        format!("{:016x}-{i:09}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    } else {
        format!("exec-{i:09}")
    }
}

#[cfg(feature = "kafka")]
#[path = "bench/kafka.rs"]
mod kafka;

const MACHINES: u64 = 20;
const BATCH: usize = 2048;
const T0: i64 = 1_750_000_000_000;

fn machine(i: u64) -> String {
    format!(
        "arn:aws:states:local:000000000000:stateMachine:machine-{}",
        i % MACHINES
    )
}

fn status(i: u64) -> Status {
    // Independent of the machine (i % MACHINES): every machine has each status.
    match (i / MACHINES) % 50 {
        0..=3 => Status::Failed,
        4 => Status::TimedOut,
        _ => Status::Succeeded,
    }
}

fn execution_arn(i: u64) -> String {
    format!(
        "arn:aws:states:local:000000000000:express:machine-{}:{}",
        i % MACHINES,
        name(i)
    )
}

fn result(i: u64) -> ResultRecord {
    let start_ms = T0 + i as i64;
    let status = status(i);
    ResultRecord {
        execution_arn: execution_arn(i),
        state_machine_arn: machine(i),
        name: name(i),
        status,
        start_ms,
        stop_ms: start_ms + 35,
        output: (status == Status::Succeeded)
            .then(|| r#"{"id":42,"amount":250,"tag":"order-42"}"#.into()),
        error: (status == Status::Failed).then(|| "States.TaskFailed".into()),
        cause: (status == Status::Failed).then(|| "the card was declined".into()),
        billed_duration_ms: 100,
        billed_memory_mb: 64,
        idempotency_key: Some(key(i)),
        source: Some(store::SourceRef {
            topic: "quickstep.start".into(),
            partition: (i % 12) as i32,
            offset: i as i64,
        }),
    }
}

fn wire_result(i: u64) -> Vec<u8> {
    let r = result(i);
    let ts = |ms: i64| Timestamp {
        seconds: ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    };
    ExecutionResult {
        execution_arn: r.execution_arn,
        state_machine_arn: r.state_machine_arn,
        name: r.name,
        status: match r.status {
            Status::Failed => WireStatus::Failed,
            Status::TimedOut => WireStatus::TimedOut,
            _ => WireStatus::Succeeded,
        } as i32,
        start_date: Some(ts(r.start_ms)),
        stop_date: Some(ts(r.stop_ms)),
        output: r.output,
        error: r.error,
        cause: r.cause,
        billing_details: Some(BillingDetails {
            billed_memory_used_in_mb: 64,
            billed_duration_in_milliseconds: 100,
        }),
        idempotency_key: r.idempotency_key.unwrap_or_default(),
        source: r.source.map(|s| Source {
            topic: s.topic,
            partition: s.partition,
            offset: s.offset,
        }),
    }
    .to_json_bytes()
    .expect("renders")
}

fn event_type(id: u64, events: u64) -> &'static str {
    match id {
        1 => "ExecutionStarted",
        _ if id == events => "ExecutionSucceeded",
        _ if id.is_multiple_of(2) => "TaskStateEntered",
        _ => "TaskStateExited",
    }
}

fn details(id: u64) -> String {
    format!(
        r#"{{"name":"State{id}","input":"{{\"id\":42,\"amount\":250}}","inputDetails":{{"truncated":false}}}}"#
    )
}

fn events(i: u64, events: u64) -> impl Iterator<Item = EventRecord> {
    (1..=events).map(move |id| EventRecord {
        execution_arn: execution_arn(i),
        id: id as i64,
        previous_event_id: id as i64 - 1,
        timestamp_ms: T0 + i as i64 + id as i64,
        event_type: event_type(id, events).into(),
        details: details(id),
    })
}

fn wire_event(event: &EventRecord) -> Vec<u8> {
    // The shape `runtime::sinks::log_record` writes.
    format!(
        r#"{{"id":"{}","previous_event_id":"{}","event_timestamp":"{}","type":"{}","execution_arn":"{}","details":{}}}"#,
        event.id, event.previous_event_id, event.timestamp_ms, event.event_type, event.execution_arn, event.details
    )
    .into_bytes()
}

/// This process's CPU time (user + system) from /proc/self/stat, so rates can be given per
/// core-second on a machine shared with other work (wall-clock rates are printed too).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at its closing paren.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the name); 100 Hz.
    (ticks(11) + ticks(12)) / 100.0
}

fn rates(what: &str, count: usize, wall: f64, cpu: f64) {
    println!(
        "ingest {what}: {count} in {wall:.2} s wall / {cpu:.2} s CPU = {:.0}/s wall, {:.0}/s per CPU-second",
        count as f64 / wall,
        count as f64 / cpu.max(0.01)
    );
}

fn apply(store: &Store, batch: &mut Vec<Record>) {
    store.apply(batch).expect("applies");
    batch.clear();
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn report(mut self, what: &str) {
        self.0.sort();
        let at = |q: f64| self.0[((self.0.len() as f64 * q) as usize).min(self.0.len() - 1)];
        println!(
            "  {what:<44} p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms",
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            at(1.0).as_secs_f64() * 1e3
        );
    }
}

fn measure(queries: usize, mut query: impl FnMut(usize) -> usize) -> Latencies {
    let mut latencies = Vec::with_capacity(queries);
    let mut found = 0;
    for q in 0..queries {
        let started = Instant::now();
        found += query(q);
        latencies.push(started.elapsed());
    }
    assert!(
        found > 0,
        "the queries found nothing: the benchmark would be measuring misses"
    );
    Latencies(latencies)
}

/// A deterministic spread of indexes (no rand dependency for a benchmark).
fn spread(q: usize, n: u64) -> u64 {
    (q as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % n.max(1)
}

fn main() {
    let args = Args::parse();
    SCRAMBLED_NAMES
        .set(args.scrambled_names)
        .expect("set once, here, before any name is made");
    if let Some(brokers) = &args.kafka {
        #[cfg(feature = "kafka")]
        {
            kafka::run(brokers, &args);
            return;
        }
        #[cfg(not(feature = "kafka"))]
        {
            eprintln!("store-bench: --kafka {brokers} needs the kafka feature (drop --no-default-features)");
            std::process::exit(2);
        }
    }
    let store = Store::open(args.path.as_deref(), Retention::default()).expect("opens");
    println!("store-bench: one thread; SQLite {}", rusqlite_version());

    // Ingest as the consumer does it: decode each record from its wire bytes, apply in batches.
    let payloads: Vec<Vec<u8>> = (0..args.ingest_results).map(wire_result).collect();
    let started = Instant::now();
    let cpu = cpu_seconds();
    let mut batch = Vec::with_capacity(BATCH);
    for payload in &payloads {
        batch.push(Record::Result(decode_result(payload).expect("decodes")));
        if batch.len() == BATCH {
            apply(&store, &mut batch);
        }
    }
    apply(&store, &mut batch);
    rates(
        "results",
        payloads.len(),
        started.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
    );
    drop(payloads);

    // Histories spread over the whole range (one execution in executions/histories), the
    // ones measured here included, so every history query below finds one.
    let stride = (args.executions / args.histories.max(1)).max(1);
    let payloads: Vec<(Vec<u8>, Vec<u8>)> = (0..args.ingest_histories)
        .flat_map(|h| events(h * stride, args.events))
        .map(|e| (e.execution_arn.clone().into_bytes(), wire_event(&e)))
        .collect();
    let started = Instant::now();
    let cpu = cpu_seconds();
    for (key, payload) in &payloads {
        batch.push(Record::Event(
            decode_event(Some(key), payload).expect("decodes"),
        ));
        if batch.len() == BATCH {
            apply(&store, &mut batch);
        }
    }
    apply(&store, &mut batch);
    rates(
        "history events",
        payloads.len(),
        started.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
    );
    drop(payloads);

    // Fill the rest without the wire (decoding is measured above).
    let started = Instant::now();
    for i in args.ingest_results..args.executions {
        batch.push(Record::Result(result(i)));
        if batch.len() >= BATCH {
            apply(&store, &mut batch);
        }
    }
    apply(&store, &mut batch);
    for h in args.ingest_histories..args.histories {
        batch.extend(events(h * stride, args.events).map(Record::Event));
        if batch.len() >= BATCH {
            apply(&store, &mut batch);
        }
    }
    apply(&store, &mut batch);
    let stats = store.stats().expect("stats");
    println!(
        "filled in {:.0} s: {} executions, {} events, {:.2} GB",
        started.elapsed().as_secs_f64(),
        stats.executions,
        stats.events,
        stats.bytes as f64 / 1e9
    );

    println!("queries ({} each):", args.queries);
    let n = args.executions;
    let page = |filter: Filter, cursor: Option<Cursor>| {
        store
            .list(&filter, 100, cursor)
            .expect("lists")
            .executions
            .len()
    };
    measure(args.queries, |_| page(Filter::default(), None)).report("list newest 100 (no filter)");
    measure(args.queries, |q| {
        page(
            Filter {
                state_machine_arn: Some(machine(q as u64)),
                ..Filter::default()
            },
            None,
        )
    })
    .report("list newest 100 of a state machine");
    measure(args.queries, |q| {
        page(
            Filter {
                state_machine_arn: Some(machine(q as u64)),
                status: Some(Status::Failed),
                ..Filter::default()
            },
            None,
        )
    })
    .report("list 100 FAILED of a state machine");
    measure(args.queries, |q| {
        page(
            Filter {
                status: Some(Status::TimedOut),
                ..Filter::default()
            },
            Some(Cursor {
                start_ms: T0 + spread(q, n) as i64,
                row: i64::MAX,
            }),
        )
    })
    .report("list 100 TIMED_OUT, page deep in time");
    measure(args.queries, |q| {
        let from = T0 + spread(q, n) as i64;
        page(
            Filter {
                started_after_ms: Some(from),
                started_before_ms: Some(from + 10_000),
                ..Filter::default()
            },
            None,
        )
    })
    .report("list 100 in a time range");
    measure(args.queries, |q| {
        page(
            Filter {
                name: Some(name(spread(q, n))),
                ..Filter::default()
            },
            None,
        )
    })
    .report("list by execution name");
    measure(args.queries, |q| {
        page(
            Filter {
                idempotency_key: Some(key(spread(q, n))),
                ..Filter::default()
            },
            None,
        )
    })
    .report("list by idempotency key");
    measure(args.queries, |q| {
        usize::from(
            store
                .execution(&execution_arn(spread(q, n)))
                .expect("reads")
                .is_some(),
        )
    })
    .report("describe one execution");
    measure(args.queries, |q| {
        let i = spread(q, args.histories) * stride;
        store
            .history(&execution_arn(i), None, 1000, false)
            .expect("reads")
            .map_or(0, |e| e.len())
    })
    .report("history of one execution (all events)");
}

fn rusqlite_version() -> &'static str {
    rusqlite::version()
}

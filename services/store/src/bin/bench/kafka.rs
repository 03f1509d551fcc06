//! `store-bench --kafka BROKERS`: ingest as a gateway replica does it, from Kafka. Result
//! records (encoded as the worker encodes them: `ExecutionResult::to_json_bytes`, keyed like
//! their start record) and history records (encoded by the history sink itself:
//! `HistoryBatch::json_records`, keyed by execution ARN) are produced into fresh topics by
//! the producer every Quickstep process uses; then the gateway's store reader
//! (`store::ingest::run`, on a consumer from `KafkaSettings::reader_from_beginning`, as
//! `Gateway::build` makes it) reads them from the beginning into a fresh store, and the
//! time until the last record is stored is measured, with the process's CPU time (user +
//! system, all threads) and where it went, thread by thread. The topics are deleted after.

use super::{cpu_seconds, result, wire_result, Args, T0};
use asl::history::{HistoryEvent, HistoryEventType};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use runtime::kafka::KafkaSettings;
use runtime::sinks::HistoryBatch;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use store::ingest::{Observer, Topics};
use store::{Retention, Store};
use tokio_util::sync::CancellationToken;

/// Counts what the reader stored and stops it once everything is in.
struct Progress {
    results: AtomicU64,
    events: AtomicU64,
    trouble: AtomicU64,
    expected: u64,
    done: OnceLock<Instant>,
    stop: CancellationToken,
}

impl Observer for Progress {
    fn applied(&self, results: usize, events: usize) {
        let results = self.results.fetch_add(results as u64, Ordering::Relaxed) + results as u64;
        let events = self.events.fetch_add(events as u64, Ordering::Relaxed) + events as u64;
        if results + events >= self.expected {
            let _ = self.done.set(Instant::now());
            self.stop.cancel();
        }
    }

    fn skipped(&self, _: &'static str) {
        self.trouble.fetch_add(1, Ordering::Relaxed);
        self.stop.cancel();
    }

    fn failed(&self, _: usize) {
        self.trouble.fetch_add(1, Ordering::Relaxed);
        self.stop.cancel();
    }
}

/// CPU seconds of each of this process's threads, summed by thread name.
fn thread_cpu() -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<f64> = stat[close + 1..]
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        // utime and stime, in 100 Hz ticks (fields 14 and 15 of the line).
        let ticks = fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0);
        *by_name.entry(name).or_insert(0.0) += ticks / 100.0;
    }
    by_name
}

/// The events of one execution that ran `events` events through Task states, as the engine
/// records them (execution data as JSON values; the sink turns them into AWS's text).
fn history(i: u64, events: u64) -> Vec<HistoryEvent> {
    let input = json!({"id": i, "amount": 250, "tag": format!("order-{i}")});
    let resource = "arn:aws:lambda:local:000000000000:function:charge";
    (1..=events)
        .map(|id| {
            let (event_type, details) = if id == 1 {
                (
                    HistoryEventType::ExecutionStarted,
                    json!({"input": input, "roleArn": "arn:aws:iam::000000000000:role/quickstep"}),
                )
            } else if id == events {
                (
                    HistoryEventType::ExecutionSucceeded,
                    json!({"output": input}),
                )
            } else {
                let state = format!("Step{}", (id - 2) / 5);
                match (id - 2) % 5 {
                    0 => (
                        HistoryEventType::TaskStateEntered,
                        json!({"name": state, "input": input}),
                    ),
                    1 => (
                        HistoryEventType::TaskScheduled,
                        json!({"resource": "invoke", "resourceType": "lambda", "region": "local",
                               "parameters": {"FunctionName": resource, "Payload": input}}),
                    ),
                    2 => (
                        HistoryEventType::TaskStarted,
                        json!({"resource": "invoke", "resourceType": "lambda"}),
                    ),
                    3 => (
                        HistoryEventType::TaskSucceeded,
                        json!({"resource": "invoke", "resourceType": "lambda", "output": input}),
                    ),
                    _ => (
                        HistoryEventType::TaskStateExited,
                        json!({"name": state, "output": input}),
                    ),
                }
            };
            HistoryEvent {
                id,
                previous_event_id: id - 1,
                event_timestamp_ms: T0 + i as i64 + id as i64,
                event_type,
                details,
            }
        })
        .collect()
}

/// Produces every record, waiting when librdkafka's queue is full, until all are acknowledged.
async fn produce(
    producer: &FutureProducer,
    topic: &str,
    records: impl Iterator<Item = (Vec<u8>, Vec<u8>)>,
) -> u64 {
    let mut deliveries = Vec::new();
    for (key, payload) in records {
        loop {
            match producer.send_result(FutureRecord::to(topic).key(&key).payload(&payload)) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((error, _)) => panic!("producing to {topic}: {error}"),
            }
        }
    }
    let count = deliveries.len() as u64;
    for delivery in deliveries {
        assert!(
            matches!(delivery.await, Ok(Ok(_))),
            "a record to {topic} was not acknowledged"
        );
    }
    count
}

/// Reads `names` from the beginning with the gateway's reader into a fresh store until
/// `expected` records are stored; prints the rates.
async fn ingest(
    settings: &KafkaSettings,
    args: &Args,
    topics: &Topics,
    names: &[&str],
    what: &str,
    expected: u64,
) {
    let store = Arc::new(Store::open(args.path.as_deref(), Retention::default()).expect("opens"));
    let consumer = settings
        .reader_from_beginning("store", names)
        .expect("a consumer");
    let progress = Arc::new(Progress {
        results: AtomicU64::new(0),
        events: AtomicU64::new(0),
        trouble: AtomicU64::new(0),
        expected,
        done: OnceLock::new(),
        stop: CancellationToken::new(),
    });
    let threads = thread_cpu();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let reader = tokio::spawn(store::ingest::run(
        store.clone(),
        consumer,
        topics.clone(),
        progress.clone(),
        progress.stop.clone(),
    ));
    let limit = Duration::from_secs(600);
    if tokio::time::timeout(limit, reader).await.is_err() {
        panic!("{what}: not all stored within {limit:?}");
    }
    let wall = progress
        .done
        .get()
        .expect("stopped only when done")
        .duration_since(started)
        .as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    assert_eq!(
        progress.trouble.load(Ordering::Relaxed),
        0,
        "{what}: records skipped or not written"
    );
    let stats = store.stats().expect("stats");
    let (results, events) = (
        progress.results.load(Ordering::Relaxed),
        progress.events.load(Ordering::Relaxed),
    );
    println!(
        "kafka ingest {what}: {results} results + {events} history events stored in {wall:.2} s wall, {cpu:.2} s CPU ({:.2} cores) = {:.0} records/s wall, {:.0} per CPU-second; store holds {} executions, {} events",
        cpu / wall,
        (results + events) as f64 / wall,
        (results + events) as f64 / cpu.max(0.01),
        stats.executions,
        stats.events,
    );
    let after = thread_cpu();
    let mut spent: Vec<(f64, &String)> = after
        .iter()
        .map(|(name, s)| (s - threads.get(name).unwrap_or(&0.0), name))
        .filter(|(s, _)| *s >= 0.05)
        .collect();
    spent.sort_by(|a, b| b.0.total_cmp(&a.0));
    let spent: Vec<String> = spent
        .iter()
        .map(|(s, name)| format!("{name} {s:.2} s"))
        .collect();
    println!("  CPU by thread: {}", spent.join(", "));
}

/// The `--kafka` run.
pub fn run(brokers: &str, args: &Args) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let settings = KafkaSettings {
            brokers: brokers.to_owned(),
            client_group: "store-bench".into(),
            registry_topic: "store-bench-unused".into(),
            partitions: args.partitions,
            overrides: BTreeMap::new(),
        };
        let run = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        );
        let results_topic = format!("store-bench-results-{run}");
        let history_topic = format!("store-bench-history-{run}");
        settings
            .ensure_topics(&[&results_topic, &history_topic])
            .await
            .expect("the topics are created");
        let producer = settings.producer().expect("a producer");
        let started = Instant::now();
        let results = produce(
            &producer,
            &results_topic,
            (0..args.ingest_results).map(|i| {
                let key = result(i).idempotency_key.unwrap_or_default().into_bytes();
                (key, wire_result(i))
            }),
        )
        .await;
        let events = produce(
            &producer,
            &history_topic,
            (0..args.ingest_histories).flat_map(|i| {
                let arn = super::execution_arn(i);
                let events = history(i, args.events);
                let batch = HistoryBatch {
                    execution_arn: &arn,
                    attempt: 1,
                    events: &events,
                };
                let records = batch.json_records().expect("the sink encodes");
                records
                    .into_iter()
                    .map(move |payload| (arn.clone().into_bytes(), payload))
                    .collect::<Vec<_>>()
            }),
        )
        .await;
        producer
            .flush(Duration::from_secs(60))
            .expect("the producer flushes");
        drop(producer);
        println!(
            "produced {results} results to {results_topic} and {events} history events to {history_topic} ({} partitions each) in {:.1} s",
            args.partitions,
            started.elapsed().as_secs_f64()
        );

        let topics = Topics {
            results: results_topic.clone(),
            history: Some(history_topic.clone()),
        };
        ingest(&settings, args, &topics, &[&results_topic], "results", results).await;
        ingest(&settings, args, &topics, &[&history_topic], "history", events).await;
        ingest(
            &settings,
            args,
            &topics,
            &[&results_topic, &history_topic],
            "both topics",
            results + events,
        )
        .await;

        let admin: AdminClient<DefaultClientContext> =
            settings.client().create().expect("an admin client");
        match admin
            .delete_topics(&[&results_topic, &history_topic], &AdminOptions::new())
            .await
        {
            Ok(_) => println!("deleted {results_topic} and {history_topic}"),
            Err(error) => println!("the topics stay (deleting them failed: {error})"),
        }
    });
}

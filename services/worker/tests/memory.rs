//! Memory per in-flight execution, counted: a whole worker (source, backlog, admission,
//! idempotency, execution, commit tracking) on librdkafka's mock cluster holds executions of
//! the order machine behind a two-minute Wait, and a counting allocator tells the Rust heap
//! they hold. (`kafka-bench run --memory-in-flight` measures the process's RSS, which adds
//! librdkafka's C heap and the allocator's own slack.)
//!
//! Its own test binary: the allocator counts the whole process, so nothing else runs here.

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use runtime::task_token::TaskTokenSecret;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use worker::config::{TriggerConfig, WorkerConfig};
use worker::metrics::Metrics;

/// The system allocator, counting the bytes it holds for Rust.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Live allocations by size (the last slot for every larger one): with many identical
/// executions held, the sizes whose count grew by about their number are what each holds.
static BY_SIZE: [AtomicIsize; SIZES] = [const { AtomicIsize::new(0) }; SIZES];
const SIZES: usize = 1 << 14;

fn slot(size: usize) -> &'static AtomicIsize {
    &BY_SIZE[size.min(SIZES - 1)]
}

fn by_size() -> Vec<isize> {
    BY_SIZE.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

// SAFETY: every call goes to the system allocator as it came; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        slot(layout.size()).fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        slot(layout.size()).fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        slot(layout.size()).fetch_sub(1, Ordering::Relaxed);
        slot(new_size).fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const HELD: usize = 2000;
/// What an execution held in a Wait keeps of the Rust heap: 6,971 bytes before the worker
/// boxed its stages apart, 5,933 after, 5,419 once the engine boxed its Task, Parallel and
/// Map futures (a waiting state's future was the size of the largest); 5,643 with exactly-once
/// delivery merged (its two modes' execution futures boxed apart: 7,163 inline); 3,987 once
/// the engine parked a top-level Wait (its leg's futures dropped, the parked state kept);
/// 2,929 once the worker's task stopped keeping room for its record and for a rejection,
/// and a running record let go of its value and headers (2,969 merged with the engine's
/// borrowed inputs and in-place steps). A bound, so that a change that
/// grows it is noticed.
const BOUND: isize = 3072;

fn slow_order_machine() -> String {
    let order: serde_json::Value =
        serde_json::from_str(include_str!("../../../examples/order.asl.json")).expect("JSON");
    let mut slow = order.clone();
    slow["States"]["Nap"] =
        serde_json::json!({"Type": "Wait", "Seconds": 120, "Next": order["StartAt"].clone()});
    slow["StartAt"] = "Nap".into();
    slow.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_flight_execution_of_the_order_machine_holds_little_rust_heap() {
    // librdkafka's mock cluster answers no CreateTopics, which the worker sends: a real
    // broker (`deploy/local/up`), else nothing to measure.
    let Ok(brokers) = std::env::var("QUICKSTEP_TEST_BROKERS") else {
        eprintln!("QUICKSTEP_TEST_BROKERS is not set: skipped");
        return;
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let run = format!("memory-{}-{started}", std::process::id());
    let input = format!("{run}.start");
    let results = format!("{run}.results");
    let (input, results) = (input.as_str(), results.as_str());
    let defs = std::env::temp_dir().join(format!("worker-memory-{}", std::process::id()));
    std::fs::create_dir_all(&defs).expect("dir");
    std::fs::write(defs.join("slow.asl.json"), slow_order_machine()).expect("definition");
    let config = WorkerConfig {
        brokers: brokers.clone(),
        definitions: Some(defs.clone()),
        triggers: vec![TriggerConfig {
            topic: input.into(),
            state_machine: None,
            state_machine_path: None,
            idempotency_key_path: None,
        }],
        results_topic: results.into(),
        group: run.clone(),
        max_in_flight: HELD,
        shutdown_grace_seconds: 0,
        task_token_key: Some(TaskTokenSecret::random().expect("a key")),
        ..WorkerConfig::default()
    };
    let metrics = Metrics::new();
    let worker = worker::Worker::build(config, metrics.clone())
        .await
        .expect("worker");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("producer");
    // One record first: the worker has joined, compiled and warmed its caches when it runs.
    let send = |i: usize| {
        let payload = format!("{{\"id\":{i},\"amount\":{}}}", (i * 37) % 200);
        let key = format!("k{i}");
        let producer = producer.clone();
        async move {
            let headers = OwnedHeaders::new().insert(Header {
                key: "quickstep-state-machine",
                value: Some("slow"),
            });
            producer
                .send(
                    FutureRecord::to(input)
                        .key(&key)
                        .payload(&payload)
                        .headers(headers),
                    Duration::from_secs(10),
                )
                .await
                .expect("produced");
        }
    };
    let in_flight = |n: i64| {
        let metrics = metrics.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while metrics.executions.in_flight.get() < n {
                assert!(
                    Instant::now() < deadline,
                    "only {} of {n} in flight",
                    metrics.executions.in_flight.get()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Whatever the stages do after the engine starts has settled.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    send(0).await;
    in_flight(1).await;
    let idle = LIVE.load(Ordering::Relaxed);
    let idle_sizes = by_size();
    futures::future::join_all((1..HELD).map(send)).await;
    in_flight(HELD as i64).await;
    let loaded = LIVE.load(Ordering::Relaxed);
    let per_execution = (loaded - idle) / (HELD as isize - 1);
    eprintln!("Rust heap per in-flight execution: {per_execution} bytes; by allocation size:");
    let held = HELD as isize - 1;
    let mut grown: Vec<(usize, isize)> = by_size()
        .iter()
        .zip(idle_sizes)
        .enumerate()
        .map(|(size, (now, before))| (size, now - before))
        .filter(|(_, grown)| *grown > 0)
        .collect();
    grown.sort_by_key(|(size, grown)| -(*size as isize * grown));
    for (size, grown) in grown.iter().take(25) {
        eprintln!(
            "  {size:>6} bytes × {:.2} per execution",
            *grown as f64 / held as f64
        );
    }
    shutdown.cancel();
    running.await.expect("joined").expect("worker ran");
    std::fs::remove_dir_all(&defs).ok();
    assert!(
        per_execution <= BOUND,
        "{per_execution} bytes of Rust heap per in-flight execution (bound {BOUND})"
    );
}

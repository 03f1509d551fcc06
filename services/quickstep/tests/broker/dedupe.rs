//! Duplicated keys — the same key produced twice, seconds apart — give one result.

use crate::common::*;
use std::time::{Duration, Instant};

async fn duplicated_keys(idempotency: &str, workers: usize) {
    let Some(env) = Env::get("dedupe") else {
        return;
    };
    let started = Instant::now();
    let scenario = Scenario::new(&env.brokers, "dedupe", 1).await;
    let store = if idempotency == "redis" {
        env.redis.as_str()
    } else {
        idempotency
    };
    let _workers: Vec<WorkerProcess> = (0..workers)
        .map(|i| scenario.worker(&format!("w{i}"), &["--idempotency", store]))
        .collect();
    wait_group(
        &env.brokers,
        &scenario.group,
        workers,
        Duration::from_secs(60),
    )
    .await;
    let prefix = unique("dedupe");
    const N: u64 = 60;
    let producer = producer(&env.brokers);
    // First copies run Wait(1 s): half the second copies arrive while the first still runs,
    // half after it completed.
    produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, SLOW, 0..N / 2),
    )
    .await;
    produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, ORDER, N / 2..N),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut again = order_starts(&prefix, SLOW, 0..N / 2);
    again.extend(order_starts(&prefix, ORDER, N / 2..N));
    produce(&producer, &scenario.input, &again).await;
    // A sentinel behind the second copies in every partition: once all sentinels have
    // results, every second copy has been admitted (admission is in order per partition).
    let sentinels: Vec<Start> = (0..PARTITIONS)
        .map(|p| {
            let mut s = Start::new(format!("sentinel-{prefix}-{p}"), ORDER, &order_input(0).0);
            s.partition = Some(p);
            s
        })
        .collect();
    produce(&producer, &scenario.input, &sentinels).await;
    let mut reader = Reader::new(&env.brokers, &scenario.results);
    assert!(
        reader
            .read_keys(N as usize + 6, Duration::from_secs(60))
            .await,
        "only {} of {} keys got a result",
        reader.by_key.len(),
        N + 6
    );
    reader.linger(Duration::from_secs(2)).await;
    assert_eq!(
        reader.duplicated().len(),
        0,
        "duplicates: {:?}",
        reader.duplicated()
    );
    eprintln!(
        "dedupe ({idempotency}, {workers} workers): {N} keys produced twice 2 s apart, one result each, in {}",
        elapsed(started)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_keys_seconds_apart_one_result_redis_two_workers() {
    duplicated_keys("redis", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_keys_seconds_apart_one_result_memory_one_worker() {
    duplicated_keys("memory", 1).await;
}

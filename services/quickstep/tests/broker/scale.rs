//! 10,000 start records over 6 partitions, 3 worker processes: every record gets exactly
//! one correct result.

use crate::common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_records_three_workers_one_correct_result_each() {
    let Some(env) = Env::get("scale") else { return };
    let started = Instant::now();
    let scenario = Scenario::new(&env.brokers, "scale", 1).await;
    let workers: Vec<WorkerProcess> = (0..3)
        .map(|i| scenario.worker(&format!("w{i}"), &["--idempotency", &env.redis]))
        .collect();
    // Produce once the group is stable: a rebalance while records run may legitimately
    // redeliver them (at-least-once), and this test is about the steady state.
    wait_group(&env.brokers, &scenario.group, 3, Duration::from_secs(60)).await;
    let prefix = unique("scale");
    const N: u64 = 10_000;
    let producer = producer(&env.brokers);
    let positions = produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, ORDER, 0..N),
    )
    .await;
    let partitions: std::collections::BTreeSet<i32> = positions.iter().map(|p| p.0).collect();
    assert_eq!(partitions.len(), 6, "the records spread over 6 partitions");
    let mut reader = Reader::new(&env.brokers, &scenario.results);
    assert!(
        reader.read_keys(N as usize, Duration::from_secs(120)).await,
        "only {} of {N} keys got a result",
        reader.by_key.len()
    );
    reader.linger(Duration::from_secs(2)).await;
    assert_eq!(reader.by_key.len(), N as usize);
    assert_eq!(
        reader.duplicated().len(),
        0,
        "duplicates: {:?}",
        reader.duplicated()
    );
    assert_eq!(reader.count, N as usize);
    check_order_outputs(&reader, &prefix);
    // Each result names its own start record.
    let mut sources: Vec<(i32, i64)> = reader.by_key.values().map(|r| r[0].source()).collect();
    sources.sort();
    let mut expected = positions.clone();
    expected.sort();
    assert_eq!(sources, expected);
    drop(workers);
    eprintln!(
        "scale: {N} records, 3 workers, exactly one correct result each in {}",
        elapsed(started)
    );
}

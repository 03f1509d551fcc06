//! SIGTERM under load: in-flight executions finish, offsets are committed, and the restarted
//! worker produces no duplicate (idempotency off, so only the commits can prevent one).

use crate::common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_commits_and_restarts_without_duplicates() {
    let Some(env) = Env::get("sigterm") else {
        return;
    };
    let started = Instant::now();
    let scenario = Scenario::new(&env.brokers, "sigterm", 3).await;
    let flags = [
        "--idempotency",
        "off",
        "--max-in-flight",
        "60",
        "--shutdown-grace-seconds",
        "20",
    ];
    let mut worker = scenario.worker("w0", &flags);
    wait_group(&env.brokers, &scenario.group, 1, Duration::from_secs(60)).await;
    let prefix = unique("sigterm");
    const N: u64 = 240;
    let producer = producer(&env.brokers);
    produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, SLOW, 0..N),
    )
    .await;
    let mut reader = Reader::new(&env.brokers, &scenario.results);
    // The first 60 finish after ~3 s; stop in the middle of the second wave.
    assert!(
        reader.read_keys(60, Duration::from_secs(30)).await,
        "first wave"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = reader.by_key.len();
    let term = Instant::now();
    worker.signal("TERM");
    let status = worker
        .wait_exit(Duration::from_secs(30))
        .expect("the worker exits within the grace period");
    let drain = term.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(drain < Duration::from_secs(15), "drain took {drain:?}");
    // Everything it admitted finished: results now cover a prefix of each partition, and
    // the committed offset of each partition is exactly that prefix.
    reader.linger(Duration::from_secs(2)).await;
    let after = reader.by_key.len();
    assert!(
        after > before,
        "in-flight executions finished after SIGTERM ({before} → {after})"
    );
    let mut per_partition = vec![Vec::new(); PARTITIONS as usize];
    for results in reader.by_key.values() {
        let (p, o) = results[0].source();
        per_partition[p as usize].push(o);
    }
    let committed = committed(&env.brokers, &scenario.group, &scenario.input);
    for (p, offsets) in per_partition.iter_mut().enumerate() {
        offsets.sort();
        let contiguous = offsets.iter().enumerate().all(|(i, o)| *o == i as i64);
        assert!(
            contiguous,
            "partition {p}: finished offsets {offsets:?} are not a prefix"
        );
        let expected = if offsets.is_empty() {
            -1
        } else {
            offsets.len() as i64
        };
        assert!(
            committed[p] == expected || (offsets.is_empty() && committed[p] <= 0),
            "partition {p}: committed {} but {} finished",
            committed[p],
            offsets.len()
        );
    }
    worker.restart();
    assert!(
        reader.read_keys(N as usize, Duration::from_secs(60)).await,
        "only {} of {N} keys got a result after the restart",
        reader.by_key.len()
    );
    reader.linger(Duration::from_secs(2)).await;
    assert_eq!(
        reader.duplicated().len(),
        0,
        "duplicates: {:?}",
        reader.duplicated()
    );
    check_order_outputs(&reader, &prefix);
    eprintln!(
        "sigterm: drained {} in-flight executions in {drain:?}, committed, no duplicate after restart; {}",
        after - before,
        elapsed(started)
    );
}

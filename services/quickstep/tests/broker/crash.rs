//! `kill -9` a worker mid-run, start it again: no record without a result; duplicates appear
//! only for records in flight at the kill and carry the same executionArn; with Redis
//! idempotency, a key whose completion was recorded never runs again.

use crate::common::*;
use redis::AsyncCommands;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const MAX_IN_FLIGHT: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_loses_nothing_and_completed_keys_never_rerun() {
    let Some(env) = Env::get("crash") else { return };
    let started = Instant::now();
    let scenario = Scenario::new(&env.brokers, "crash", 1).await;
    let in_flight = MAX_IN_FLIGHT.to_string();
    let flags = ["--idempotency", &env.redis, "--max-in-flight", &in_flight];
    let mut victim = scenario.worker("victim", &flags);
    let _other = scenario.worker("other", &flags);
    wait_group(&env.brokers, &scenario.group, 2, Duration::from_secs(60)).await;
    let prefix = unique("crash");
    const N: u64 = 1_500;
    // A Wait of 1 s keeps up to 100 executions in flight in each worker.
    let producer = producer(&env.brokers);
    produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, SLOW, 0..N),
    )
    .await;
    let mut reader = Reader::new(&env.brokers, &scenario.results);
    assert!(
        reader.read_keys(300, Duration::from_secs(60)).await,
        "the run started"
    );

    // Freeze the victim, read which of its keys Redis holds as completed, then kill it: no
    // completion can land between the snapshot and the kill.
    victim.signal("STOP");
    let client = redis::Client::open(env.redis.as_str()).expect("redis url");
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let mut completed: HashSet<String> = HashSet::new();
    let pattern = format!("quickstep:{SLOW}:{prefix}-*");
    let keys: Vec<String> = redis.keys(&pattern).await.expect("KEYS");
    for key in keys {
        let value: Option<String> = redis.get(&key).await.expect("GET");
        if value.is_some_and(|v| v.starts_with("completed|")) {
            completed.insert(key.rsplit(':').next().unwrap().to_owned());
        }
    }
    victim.signal("KILL");
    victim.wait_exit(Duration::from_secs(5)).expect("killed");
    eprintln!(
        "crash: killed the victim with {} keys completed overall",
        completed.len()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    victim.restart();

    assert!(
        reader.read_keys(N as usize, Duration::from_secs(90)).await,
        "only {} of {N} keys got a result",
        reader.by_key.len()
    );
    reader.linger(Duration::from_secs(3)).await;
    check_order_outputs(&reader, &prefix);
    let duplicated = reader.duplicated();
    for key in duplicated.keys() {
        let results = &reader.by_key[key];
        let arns: HashSet<&str> = results.iter().map(|r| r.arn()).collect();
        assert_eq!(
            arns.len(),
            1,
            "{key}: a duplicate carries the same executionArn"
        );
        assert!(
            !completed.contains(key),
            "{key} ran again although its completion was recorded before the kill"
        );
    }
    assert!(
        duplicated.len() <= MAX_IN_FLIGHT,
        "{} duplicated keys: more than the victim had in flight",
        duplicated.len()
    );
    eprintln!(
        "crash: {N} records, all with a result; {} duplicated (in flight at the kill), in {}",
        duplicated.len(),
        elapsed(started)
    );
}

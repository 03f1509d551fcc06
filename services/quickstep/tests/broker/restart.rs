//! Broker restart mid-run and Redis restart mid-run: nothing lost, workers resume by
//! themselves. Runs its own broker and redis (other ports), so restarting them disturbs no
//! one else: QUICKSTEP_TEST_OWN_KAFKA_PORT (19092; controller +1) and
//! QUICKSTEP_TEST_OWN_REDIS_PORT (16379).

use crate::common::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

struct OwnInfra {
    env: Vec<(&'static str, String)>,
}

impl OwnInfra {
    fn up() -> OwnInfra {
        let kafka = std::env::var("QUICKSTEP_TEST_OWN_KAFKA_PORT").unwrap_or("19092".into());
        let redis = std::env::var("QUICKSTEP_TEST_OWN_REDIS_PORT").unwrap_or("16379".into());
        let infra = OwnInfra {
            env: vec![
                ("QUICKSTEP_KAFKA_PORT", kafka),
                ("QUICKSTEP_REDIS_PORT", redis),
                ("QUICKSTEP_KAFKA_HEAP", "512m".into()),
            ],
        };
        assert!(
            deploy("up", &[], &infra.env),
            "deploy/local/up on the test's own ports"
        );
        infra
    }
    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.env[0].1)
    }
    fn redis(&self) -> String {
        format!("redis://127.0.0.1:{}", self.env[1].1)
    }
    fn run(&self, script: &str) {
        assert!(deploy(script, &[], &self.env), "deploy/local/{script}");
    }
}

impl Drop for OwnInfra {
    fn drop(&mut self) {
        deploy("down", &["--wipe"], &self.env);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_redis_restarts_lose_nothing_and_workers_resume() {
    let Some(_) = Env::get("restart") else { return };
    let started = Instant::now();
    let infra = OwnInfra::up();
    let brokers = infra.brokers();
    let redis = infra.redis();
    let scenario = Scenario::new(&brokers, "restart", 1).await;
    let flags = ["--idempotency", redis.as_str(), "--max-in-flight", "100"];
    let _workers = [scenario.worker("w0", &flags), scenario.worker("w1", &flags)];
    wait_group(&brokers, &scenario.group, 2, Duration::from_secs(60)).await;
    let prefix = unique("restart");
    let producer = producer(&brokers);
    let mut reader = Reader::new(&brokers, &scenario.results);

    // Broker restart mid-run.
    produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, SLOW, 0..1000),
    )
    .await;
    assert!(
        reader.read_keys(200, Duration::from_secs(60)).await,
        "first batch started"
    );
    let at = reader.by_key.len();
    let t = Instant::now();
    infra.run("kafka-restart");
    eprintln!(
        "restart: broker restarted at {at} results in {}",
        elapsed(t)
    );
    assert!(
        reader.read_keys(1000, Duration::from_secs(90)).await,
        "after the broker restart only {} of 1000 keys got a result",
        reader.by_key.len()
    );

    // Redis restart mid-run (its append-only file keeps the window).
    produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, SLOW, 1000..2000),
    )
    .await;
    assert!(
        reader.read_keys(1200, Duration::from_secs(60)).await,
        "second batch started"
    );
    let t = Instant::now();
    infra.run("redis-restart");
    eprintln!(
        "restart: redis restarted at {} results in {}",
        reader.by_key.len(),
        elapsed(t)
    );
    assert!(
        reader.read_keys(2000, Duration::from_secs(90)).await,
        "after the redis restart only {} of 2000 keys got a result",
        reader.by_key.len()
    );

    // The window survived: the first batch, started again, is all duplicates.
    let before: Vec<usize> = (0..100)
        .map(|i| {
            reader
                .by_key
                .get(&format!("{prefix}-{i}"))
                .map_or(0, Vec::len)
        })
        .collect();
    produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, SLOW, 0..100),
    )
    .await;

    // And new work after both.
    produce(
        &producer,
        &scenario.input,
        &order_starts(&prefix, ORDER, 2000..2100),
    )
    .await;
    assert!(
        reader.read_keys(2100, Duration::from_secs(60)).await,
        "after both restarts only {} of 2100 keys got a result",
        reader.by_key.len()
    );
    reader.linger(Duration::from_secs(2)).await;
    let after: Vec<usize> = (0..100)
        .map(|i| {
            reader
                .by_key
                .get(&format!("{prefix}-{i}"))
                .map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(
        before, after,
        "keys completed before the redis restart ran again after it"
    );
    check_order_outputs(&reader, &prefix);
    for (key, results) in &reader.by_key {
        let arns: HashSet<&str> = results.iter().map(|r| r.arn()).collect();
        assert_eq!(
            arns.len(),
            1,
            "{key}: a redelivered record keeps its executionArn"
        );
    }
    eprintln!(
        "restart: 2100 records through a broker and a redis restart, none lost ({} duplicated), in {}",
        reader.duplicated().len(),
        elapsed(started)
    );
}

//! Poison records (invalid JSON, unknown state machine, 300 KB payload) get FAILED results,
//! do not delay the records behind them, and land on the dead-letter topic.

use crate::common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_fail_fast_and_go_to_the_dead_letter_topic() {
    let Some(env) = Env::get("poison") else {
        return;
    };
    let started = Instant::now();
    let scenario = Scenario::new(&env.brokers, "poison", 1).await;
    let dead = unique("qs-test-poison-dead");
    create_topics(&env.brokers, &[&dead]).await;
    let _worker = scenario.worker(
        "w0",
        &["--idempotency", &env.redis, "--dead-letter-topic", &dead],
    );
    wait_group(&env.brokers, &scenario.group, 1, Duration::from_secs(60)).await;
    let prefix = unique("poison");
    let mut records = Vec::new();
    let mut poison = |key: &str, value: Vec<u8>, machine: &str| {
        records.push(Start {
            key: format!("{prefix}-{key}"),
            value,
            machine: Some(machine.to_owned()),
            partition: Some(0),
        });
    };
    poison("json", b"{\"id\": 1,".to_vec(), ORDER);
    poison("unknown", b"{\"id\": 2}".to_vec(), "no-such-machine");
    let big = format!("{{\"id\": 3, \"pad\": \"{}\"}}", "x".repeat(300 * 1024));
    poison("big", big.into_bytes(), ORDER);
    poison("nomachine", b"{}".to_vec(), ORDER);
    records.last_mut().unwrap().machine = None;
    // Behind the poison, in the same partition: ordinary records.
    for i in 0..50u64 {
        let mut start = Start::new(format!("{prefix}-{i}"), ORDER, &order_input(i).0);
        start.partition = Some(0);
        records.push(start);
    }
    let producer = producer(&env.brokers);
    let produced = Instant::now();
    produce(&producer, &scenario.input, &records).await;
    let mut reader = Reader::new(&env.brokers, &scenario.results);
    assert!(
        reader.read_keys(54, Duration::from_secs(30)).await,
        "only {} of 54 keys got a result",
        reader.by_key.len()
    );
    let took = produced.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the records behind the poison took {took:?}"
    );
    let expect = [
        ("json", "Quickstep.InvalidInput", "not JSON"),
        (
            "unknown",
            "Quickstep.StateMachineDoesNotExist",
            "no-such-machine",
        ),
        ("big", "States.DataLimitExceeded", "exceeds the maximum"),
        ("nomachine", "Quickstep.InvalidInput", "No state machine"),
    ];
    for (key, error, cause) in expect {
        let results = &reader.by_key[&format!("{prefix}-{key}")];
        assert_eq!(results.len(), 1, "{key}");
        assert_eq!(results[0].status(), "FAILED", "{key}: {}", results[0].json);
        assert_eq!(results[0].error(), error, "{key}");
        let text = results[0].json["cause"].as_str().unwrap_or_default();
        assert!(text.contains(cause), "{key}: cause {text:?}");
    }
    for i in 0..50u64 {
        let results = &reader.by_key[&format!("{prefix}-{i}")];
        assert_eq!(results[0].status(), "SUCCEEDED");
        assert_eq!(results[0].output(), order_output(i, order_input(i).1));
    }
    // The originals, byte for byte, with the reason in headers.
    let letters = read_raw(&env.brokers, &dead, 4, Duration::from_secs(20)).await;
    assert_eq!(letters.len(), 4, "dead letters");
    for poisoned in &records[..4] {
        let (key, value, headers) = letters
            .iter()
            .find(|(key, _, _)| key == &poisoned.key)
            .unwrap_or_else(|| panic!("{} is not on the dead-letter topic", poisoned.key));
        assert!(&poisoned.value == value, "{key}: the original value");
        assert!(
            headers.iter().any(|(k, _)| k == "quickstep-error"),
            "{key}: {headers:?}"
        );
    }
    eprintln!(
        "poison: 4 poison records FAILED + dead-lettered, 50 behind them done {took:?} after produce, in {}",
        elapsed(started)
    );
}

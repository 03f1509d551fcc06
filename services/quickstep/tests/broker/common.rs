//! The harness: real broker and redis addresses from the environment, worker processes,
//! producing start records, collecting results.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const PARTITIONS: i32 = 6;

/// Set by `./test` when it started (or found) the broker and redis: a test that would skip
/// fails instead, so a broken setup cannot pass as skipped.
pub const REQUIRED_ENV: &str = "QUICKSTEP_BROKER_TESTS_REQUIRED";

/// The broker and redis the tests run against, or `None` (the test prints SKIP) — unless
/// `REQUIRED_ENV` is `1`, when a missing one fails the test.
pub struct Env {
    pub brokers: String,
    pub redis: String,
}

impl Env {
    pub fn get(test: &str) -> Option<Env> {
        let brokers = std::env::var("QUICKSTEP_TEST_BROKERS")
            .ok()
            .filter(|s| !s.is_empty());
        let redis = std::env::var("QUICKSTEP_TEST_REDIS")
            .ok()
            .filter(|s| !s.is_empty());
        match (brokers, redis) {
            (Some(brokers), Some(redis)) => Some(Env { brokers, redis }),
            _ if std::env::var(REQUIRED_ENV).is_ok_and(|v| v == "1") => panic!(
                "{test}: {REQUIRED_ENV}=1 but QUICKSTEP_TEST_BROKERS or QUICKSTEP_TEST_REDIS is \
                 not set: the broker tests must run"
            ),
            _ => {
                eprintln!(
                    "SKIP {test}: set QUICKSTEP_TEST_BROKERS and QUICKSTEP_TEST_REDIS \
                     (./test starts deploy/local/up and sets them)"
                );
                None
            }
        }
    }
}

/// A name unique to this run and call: topics, groups and keys never collide with other
/// developers' runs on the shared broker.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{prefix}-{}-{:x}-{}",
        std::process::id(),
        nanos & 0xffff_ffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The repository root (deploy/, examples/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Topics, group and definitions of one test.
pub struct Scenario {
    pub brokers: String,
    pub input: String,
    pub results: String,
    pub group: String,
    pub dir: tempfile::TempDir,
}

/// The 5-state order machine, and a slow variant: a Wait of `seconds` first.
pub const ORDER: &str = "order";
pub const SLOW: &str = "slow";

impl Scenario {
    pub async fn new(brokers: &str, name: &str, wait_seconds: u64) -> Scenario {
        let dir = tempfile::tempdir().expect("temp dir");
        let defs = dir.path().join("definitions");
        std::fs::create_dir_all(&defs).unwrap();
        let order = std::fs::read_to_string(repo_root().join("examples/order.asl.json")).unwrap();
        std::fs::write(defs.join("order.asl.json"), &order).unwrap();
        let mut slow: Value = serde_json::from_str(&order).unwrap();
        let start = slow["StartAt"].clone();
        slow["States"]["Nap"] =
            serde_json::json!({"Type": "Wait", "Seconds": wait_seconds, "Next": start});
        slow["StartAt"] = "Nap".into();
        std::fs::write(defs.join("slow.asl.json"), slow.to_string()).unwrap();
        let scenario = Scenario {
            brokers: brokers.to_owned(),
            input: unique(&format!("qs-test-{name}-start")),
            results: unique(&format!("qs-test-{name}-results")),
            group: unique(&format!("qs-test-{name}")),
            dir,
        };
        create_topics(brokers, &[&scenario.input, &scenario.results]).await;
        scenario
    }

    pub fn definitions(&self) -> PathBuf {
        self.dir.path().join("definitions")
    }

    /// A worker process of this scenario, with extra flags.
    pub fn worker(&self, label: &str, extra: &[&str]) -> WorkerProcess {
        let log = self.dir.path().join(format!("{label}.log"));
        let mut args: Vec<String> = vec![
            "worker".into(),
            "--brokers".into(),
            self.brokers.clone(),
            "--group".into(),
            self.group.clone(),
            "--definitions".into(),
            self.definitions().display().to_string(),
            "--input-topic".into(),
            self.input.clone(),
            "--results-topic".into(),
            self.results.clone(),
            "--partitions".into(),
            PARTITIONS.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        WorkerProcess::spawn(label, &args, &log)
    }
}

pub async fn create_topics(brokers: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
    let results = tokio::time::timeout(
        Duration::from_secs(30),
        admin.create_topics(&new, &AdminOptions::new()),
    )
    .await
    .expect("topic creation within 30 s")
    .expect("create topics");
    for result in results {
        if let Err((topic, code)) = result {
            assert_eq!(
                code,
                rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
                "creating {topic}"
            );
        }
    }
}

/// `quickstep worker` as a child process; killed (SIGKILL) when dropped.
pub struct WorkerProcess {
    pub label: String,
    pub child: Child,
    pub log: PathBuf,
    args: Vec<String>,
}

impl WorkerProcess {
    fn spawn(label: &str, args: &[String], log: &Path) -> WorkerProcess {
        WorkerProcess {
            label: label.to_owned(),
            child: spawn_child(args, log),
            log: log.to_owned(),
            args: args.to_vec(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// Starts the same worker again (same flags, same log).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_child(&self.args, &self.log);
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// A failed test's whole worker log, copied into QUICKSTEP_TEST_KEEP_LOGS when set (the tail
/// printed above is rarely enough to tell what a rare failure was).
fn keep_log(label: &str, log: &Path) {
    let Ok(dir) = std::env::var("QUICKSTEP_TEST_KEEP_LOGS") else {
        return;
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let kept = Path::new(&dir).join(format!("{stamp}-{label}.log"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::copy(log, &kept)) {
        Ok(_) => eprintln!("--- worker {label} log kept: {}", kept.display()),
        Err(error) => eprintln!("--- worker {label} log not kept: {error}"),
    }
}

fn spawn_child(args: &[String], log: &Path) -> Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("worker log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_quickstep"));
    // The workers log at info unless QUICKSTEP_TEST_WORKER_LOG names a filter (e.g.
    // `info,worker::transaction=debug` to see every commit's offsets when chasing a failure).
    match std::env::var("QUICKSTEP_TEST_WORKER_LOG") {
        Ok(filter) => command.env("RUST_LOG", filter),
        Err(_) => command.env_remove("RUST_LOG"),
    };
    command
        .args(args)
        // A killed worker's partitions move on after 6 s, not librdkafka's 45 s.
        .env("QUICKSTEP_KAFKA__SESSION_TIMEOUT_MS", "6000")
        .env("QUICKSTEP_KAFKA__HEARTBEAT_INTERVAL_MS", "1000")
        // One deployment: every worker signs and checks task tokens with the same key.
        .env(
            "QUICKSTEP_TASK_TOKEN_KEY",
            "the-broker-tests-task-token-key-32-bytes",
        )
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .spawn()
        .expect("spawn quickstep worker")
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- worker {} log tail:\n{}", self.label, self.log_tail());
            keep_log(&self.label, &self.log);
        }
    }
}

pub fn producer(brokers: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "0")
        .create()
        .expect("producer")
}

/// One start record.
pub struct Start {
    pub key: String,
    pub value: Vec<u8>,
    pub machine: Option<String>,
    pub partition: Option<i32>,
}

impl Start {
    pub fn new(key: impl Into<String>, machine: &str, input: &Value) -> Start {
        Start {
            key: key.into(),
            value: input.to_string().into_bytes(),
            machine: Some(machine.to_owned()),
            partition: None,
        }
    }
}

/// Produces the records and waits until all are acknowledged. Returns (partition, offset)
/// of each, in order.
pub async fn produce(producer: &FutureProducer, topic: &str, records: &[Start]) -> Vec<(i32, i64)> {
    let mut pending = Vec::with_capacity(records.len());
    for record in records {
        let mut headers = OwnedHeaders::new();
        if let Some(machine) = &record.machine {
            headers = headers.insert(Header {
                key: "quickstep-state-machine",
                value: Some(machine.as_str()),
            });
        }
        let mut out = FutureRecord::to(topic)
            .key(&record.key)
            .payload(&record.value)
            .headers(headers);
        if let Some(partition) = record.partition {
            out = out.partition(partition);
        }
        loop {
            match producer.send_result(out) {
                Ok(future) => {
                    pending.push(future);
                    break;
                }
                Err((error, back)) => {
                    assert!(
                        matches!(
                            error.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "produce: {error}"
                    );
                    out = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }
    let mut positions = Vec::with_capacity(pending.len());
    for future in pending {
        let delivery = future
            .await
            .expect("delivery future")
            .unwrap_or_else(|(error, _)| panic!("delivery: {error}"));
        positions.push((delivery.partition, delivery.offset));
    }
    producer.flush(Timeout::After(Duration::from_secs(30))).ok();
    positions
}

/// One result record, as read back.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub json: Value,
    /// Where the result record was read: (partition, offset).
    pub at: (i32, i64),
}

impl Outcome {
    pub fn status(&self) -> &str {
        self.json["status"].as_str().unwrap_or_default()
    }
    pub fn arn(&self) -> &str {
        self.json["executionArn"].as_str().unwrap_or_default()
    }
    pub fn output(&self) -> Value {
        self.json["output"]
            .as_str()
            .map(|s| serde_json::from_str(s).expect("output is JSON"))
            .unwrap_or(Value::Null)
    }
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or_default()
    }
    /// (partition, offset) of the start record; proto3 JSON omits zeros.
    pub fn source(&self) -> (i32, i64) {
        let source = &self.json["source"];
        let partition = source["partition"].as_i64().unwrap_or(0) as i32;
        let offset = match &source["offset"] {
            Value::String(s) => s.parse().expect("offset"),
            Value::Number(n) => n.as_i64().unwrap(),
            _ => 0,
        };
        (partition, offset)
    }
}

/// Reads a topic from the beginning (every partition, no group).
pub struct Reader {
    consumer: StreamConsumer,
    /// Every record read, by key.
    pub by_key: HashMap<String, Vec<Outcome>>,
    pub count: usize,
}

impl Reader {
    pub fn new(brokers: &str, topic: &str) -> Reader {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", unique("qs-test-reader"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            // Only committed transactions (librdkafka's default, stated: the exactly-once
            // tests count on it; records written without a transaction read as before).
            .set("isolation.level", "read_committed")
            .create()
            .expect("reader");
        let mut list = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            list.add_partition_offset(topic, partition, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&list).expect("assign");
        Reader {
            consumer,
            by_key: HashMap::new(),
            count: 0,
        }
    }

    /// Reads for at most `limit`, until `done(self)` holds. Returns whether it held.
    pub async fn read_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Reader) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !done(self) {
            let message = match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Err(_) => return false,
                // Transport errors pass (the broker may be restarting); the client
                // reconnects by itself.
                Ok(Err(_)) => continue,
                Ok(Ok(message)) => message,
            };
            let key = message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            let json = message
                .payload()
                .map(|p| serde_json::from_slice(p).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            let result = Outcome {
                json,
                at: (message.partition(), message.offset()),
            };
            self.count += 1;
            self.by_key.entry(key).or_default().push(result);
        }
        true
    }

    /// Reads until `keys` distinct keys have results, at most `limit`.
    pub async fn read_keys(&mut self, keys: usize, limit: Duration) -> bool {
        self.read_until(limit, |r| r.by_key.len() >= keys).await
    }

    /// Keeps reading for `quiet`, to catch late duplicates.
    pub async fn linger(&mut self, quiet: Duration) {
        self.read_until(quiet, |_| false).await;
    }

    /// Keys with more than one result.
    pub fn duplicated(&self) -> BTreeMap<String, usize> {
        self.by_key
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(k, v)| (k.clone(), v.len()))
            .collect()
    }
}

/// Raw records of a topic (for the dead-letter topic): key, value, headers.
pub async fn read_raw(
    brokers: &str,
    topic: &str,
    want: usize,
    limit: Duration,
) -> Vec<(String, Vec<u8>, Vec<(String, String)>)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("qs-test-raw"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("raw reader");
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).expect("assign");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while out.len() < want {
        let Ok(message) = tokio::time::timeout_at(deadline, consumer.recv()).await else {
            break;
        };
        let Ok(message) = message else { continue };
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push((
            message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default(),
            message.payload().unwrap_or_default().to_vec(),
            headers,
        ));
    }
    out
}

/// The group's committed offsets of `topic`, by partition (-1 when none).
pub fn committed(brokers: &str, group: &str, topic: &str) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("offsets reader");
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    (0..PARTITIONS)
        .map(
            |p| match committed.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => -1,
            },
        )
        .collect()
}

/// Waits until the group has `members` members and is Stable (so no rebalance is coming).
pub async fn wait_group(brokers: &str, group: &str, members: usize, limit: Duration) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("group reader");
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(list) = consumer.fetch_group_list(Some(group), Duration::from_secs(5)) {
            if let Some(info) = list.groups().first() {
                let assigned = info
                    .members()
                    .iter()
                    .filter(|m| m.assignment().is_some_and(|a| a.len() > 8))
                    .count();
                if info.state() == "Stable"
                    && info.members().len() == members
                    && assigned == members
                {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "group {group} did not reach {members} stable members within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The order machine's expected output for `{"id": id, "amount": amount}`.
pub fn order_output(id: u64, amount: u64) -> Value {
    serde_json::json!({
        "id": id,
        "amount": amount,
        "tag": format!("order-{id}"),
        "class": if amount > 100 { "big" } else { "small" },
    })
}

pub fn order_input(id: u64) -> (Value, u64) {
    let amount = (id * 37) % 200;
    (serde_json::json!({"id": id, "amount": amount}), amount)
}

/// `n` order starts with keys `{prefix}-{i}`.
pub fn order_starts(prefix: &str, machine: &str, range: std::ops::Range<u64>) -> Vec<Start> {
    range
        .map(|i| Start::new(format!("{prefix}-{i}"), machine, &order_input(i).0))
        .collect()
}

/// Checks that every result is the correct SUCCEEDED output of its key `{prefix}-{i}`.
pub fn check_order_outputs(reader: &Reader, prefix: &str) {
    for (key, results) in &reader.by_key {
        let i: u64 = key
            .strip_prefix(&format!("{prefix}-"))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected key {key}"));
        let amount = order_input(i).1;
        for result in results {
            assert_eq!(result.status(), "SUCCEEDED", "{key}: {}", result.json);
            assert_eq!(result.output(), order_output(i, amount), "{key}");
            assert_eq!(result.json["idempotencyKey"], key.as_str(), "{key}");
        }
    }
}

/// Runs a deploy/local script with env, returning its success.
pub fn deploy(script: &str, args: &[&str], env: &[(&str, String)]) -> bool {
    let mut command = Command::new(repo_root().join("deploy/local").join(script));
    command.args(args).stdout(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.status().map(|s| s.success()).unwrap_or(false)
}

pub fn elapsed(start: Instant) -> String {
    format!("{:.1}s", start.elapsed().as_secs_f64())
}

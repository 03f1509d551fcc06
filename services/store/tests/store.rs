//! The store on its own: upserts, RUNNING before a result, every list filter, keyset pages,
//! history pages both ways, retention by age and size, and ingest from a (mock) Kafka.

use std::sync::Arc;
use std::time::Duration;
use store::{
    Cursor, EventRecord, Filter, Record, ResultRecord, Retention, SourceRef, Status, Store,
};

const MACHINE: &str = "arn:aws:states:local:000000000000:stateMachine:order";

fn arn(machine: &str, name: &str) -> String {
    format!("arn:aws:states:local:000000000000:express:{machine}:{name}")
}

fn result(machine: &str, name: &str, status: Status, start_ms: i64) -> Record {
    Record::Result(ResultRecord {
        execution_arn: arn(machine, name),
        state_machine_arn: format!("arn:aws:states:local:000000000000:stateMachine:{machine}"),
        name: name.into(),
        status,
        start_ms,
        stop_ms: start_ms + 10,
        output: (status == Status::Succeeded).then(|| "{}".into()),
        error: (status == Status::Failed).then(|| "States.TaskFailed".into()),
        cause: None,
        billed_duration_ms: 100,
        billed_memory_mb: 64,
        idempotency_key: Some(format!("key-{name}")),
        source: Some(SourceRef {
            topic: "quickstep.start".into(),
            partition: 1,
            offset: start_ms,
        }),
    })
}

fn event(machine: &str, name: &str, id: i64, event_type: &str) -> Record {
    Record::Event(EventRecord {
        execution_arn: arn(machine, name),
        id,
        previous_event_id: id - 1,
        timestamp_ms: 1_000 + id,
        event_type: event_type.into(),
        details: format!(r#"{{"n": {id}}}"#),
    })
}

fn names(page: &store::Page) -> Vec<&str> {
    page.executions.iter().map(|e| e.name.as_str()).collect()
}

#[test]
fn events_before_their_result_show_a_running_execution_that_the_result_completes() {
    let store = Store::open(None, Retention::default()).expect("opens");
    store
        .apply(&[
            event("order", "a", 1, "ExecutionStarted"),
            event("order", "a", 2, "PassStateEntered"),
        ])
        .expect("applies");
    let running = store
        .execution(&arn("order", "a"))
        .expect("reads")
        .expect("exists");
    assert_eq!(running.status, Status::Running);
    assert_eq!(running.state_machine_arn, MACHINE);
    assert_eq!(running.start_ms, 1_001);
    store
        .apply(&[result("order", "a", Status::Failed, 900)])
        .expect("applies");
    let done = store
        .execution(&arn("order", "a"))
        .expect("reads")
        .expect("exists");
    assert_eq!(done.status, Status::Failed);
    assert_eq!(done.start_ms, 900);
    assert_eq!(done.error.as_deref(), Some("States.TaskFailed"));
    assert_eq!(done.source.as_ref().map(|s| s.offset), Some(900));
    // A redelivered event replaces itself; the history keeps one copy.
    store
        .apply(&[event("order", "a", 2, "PassStateEntered")])
        .expect("applies");
    let history = store
        .history(&arn("order", "a"), None, 100, false)
        .expect("reads")
        .expect("known");
    assert_eq!(history.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(store.stats().expect("stats").executions, 1);
    assert_eq!(store.stats().expect("stats").events, 2);
}

#[test]
fn lists_filter_and_page_newest_first() {
    let store = Store::open(None, Retention::default()).expect("opens");
    let mut batch = Vec::new();
    for i in 0..10 {
        let status = if i % 3 == 0 {
            Status::Failed
        } else {
            Status::Succeeded
        };
        batch.push(result("order", &format!("o{i}"), status, 1_000 + i));
        batch.push(result(
            "refund",
            &format!("r{i}"),
            Status::Succeeded,
            1_000 + i,
        ));
    }
    store.apply(&batch).expect("applies");

    let all = store.list(&Filter::default(), 100, None).expect("lists");
    assert_eq!(all.executions.len(), 20);
    assert!(all
        .executions
        .windows(2)
        .all(|w| w[0].start_ms >= w[1].start_ms));
    assert_eq!(all.next, None);
    // Pages of every status are merged from one range per status: paging in threes gives
    // the same sequence as one page, ties in start time broken the same way.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store.list(&Filter::default(), 3, after).expect("lists");
        paged.extend(names(&page).into_iter().map(str::to_owned));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, names(&all));

    let orders = Filter {
        state_machine_arn: Some(MACHINE.into()),
        ..Filter::default()
    };
    let first = store.list(&orders, 4, None).expect("lists");
    assert_eq!(names(&first), ["o9", "o8", "o7", "o6"]);
    let token = first.next.expect("more").to_token();
    let second = store
        .list(&orders, 4, Cursor::from_token(&token))
        .expect("lists");
    assert_eq!(names(&second), ["o5", "o4", "o3", "o2"]);
    let third = store.list(&orders, 4, second.next).expect("lists");
    assert_eq!(names(&third), ["o1", "o0"]);
    assert_eq!(third.next, None);

    let failed = Filter {
        status: Some(Status::Failed),
        ..orders.clone()
    };
    assert_eq!(
        names(&store.list(&failed, 100, None).expect("lists")),
        ["o9", "o6", "o3", "o0"]
    );
    let failed_anywhere = Filter {
        status: Some(Status::Failed),
        ..Filter::default()
    };
    assert_eq!(
        store
            .list(&failed_anywhere, 100, None)
            .expect("lists")
            .executions
            .len(),
        4
    );
    let window = Filter {
        started_after_ms: Some(1_002),
        started_before_ms: Some(1_004),
        ..orders.clone()
    };
    assert_eq!(
        names(&store.list(&window, 100, None).expect("lists")),
        ["o3", "o2"]
    );
    let by_name = Filter {
        name: Some("r7".into()),
        ..Filter::default()
    };
    assert_eq!(
        names(&store.list(&by_name, 100, None).expect("lists")),
        ["r7"]
    );
    let by_key = Filter {
        idempotency_key: Some("key-o4".into()),
        ..Filter::default()
    };
    assert_eq!(
        names(&store.list(&by_key, 100, None).expect("lists")),
        ["o4"]
    );
    let nothing = Filter {
        name: Some("missing".into()),
        ..Filter::default()
    };
    assert!(store
        .list(&nothing, 100, None)
        .expect("lists")
        .executions
        .is_empty());
}

#[test]
fn page_tokens_are_checked() {
    let cursor = Cursor {
        start_ms: -5,
        row: 42,
    };
    assert_eq!(Cursor::from_token(&cursor.to_token()), Some(cursor));
    for bad in ["", "q1.", "q1.5", "q1.x.1", "q2.1.1", "1.1"] {
        assert_eq!(Cursor::from_token(bad), None, "{bad}");
    }
}

#[test]
fn history_pages_both_ways() {
    let store = Store::open(None, Retention::default()).expect("opens");
    let events: Vec<Record> = (1..=7)
        .map(|id| event("order", "h", id, "PassStateEntered"))
        .collect();
    store.apply(&events).expect("applies");
    let ids = |events: Vec<store::Event>| events.iter().map(|e| e.id).collect::<Vec<_>>();
    let history = |after, limit, reverse| {
        store
            .history(&arn("order", "h"), after, limit, reverse)
            .expect("reads")
            .expect("known")
    };
    assert_eq!(ids(history(None, 3, false)), [1, 2, 3]);
    assert_eq!(ids(history(Some(3), 3, false)), [4, 5, 6]);
    assert_eq!(ids(history(Some(6), 3, false)), [7]);
    assert_eq!(ids(history(None, 3, true)), [7, 6, 5]);
    assert_eq!(ids(history(Some(5), 10, true)), [4, 3, 2, 1]);
    assert_eq!(history(None, 1, false)[0].details, r#"{"n": 1}"#);
    assert_eq!(
        store
            .history(&arn("order", "nope"), None, 10, false)
            .expect("reads"),
        None
    );
}

#[test]
fn retention_by_age_deletes_old_executions_and_their_events() {
    let store = Store::open(
        None,
        Retention {
            max_age: Some(Duration::from_secs(60)),
            max_bytes: None,
        },
    )
    .expect("opens");
    let now = 10_000_000;
    store
        .apply(&[
            result("order", "old", Status::Succeeded, now - 61_000),
            result("order", "new", Status::Succeeded, now - 59_000),
            event("order", "old", 1, "ExecutionStarted"),
        ])
        .expect("applies");
    assert_eq!(store.enforce_retention(now).expect("retains"), 1);
    assert_eq!(store.execution(&arn("order", "old")).expect("reads"), None);
    assert!(store
        .execution(&arn("order", "new"))
        .expect("reads")
        .is_some());
    assert_eq!(store.stats().expect("stats").events, 0);
}

#[test]
fn retention_by_size_deletes_the_oldest_first() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let max_bytes = 512 * 1024;
    let store = Store::open(
        Some(file.path()),
        Retention {
            max_age: None,
            max_bytes: Some(max_bytes),
        },
    )
    .expect("opens");
    let batch: Vec<Record> = (0..5_000)
        .map(|i| result("order", &format!("s{i:05}"), Status::Succeeded, i))
        .collect();
    store.apply(&batch).expect("applies");
    assert!(
        store.stats().expect("stats").bytes > max_bytes,
        "the test must overflow"
    );
    let deleted = store.enforce_retention(0).expect("retains");
    let stats = store.stats().expect("stats");
    assert!(
        deleted > 0 && stats.bytes <= max_bytes,
        "{deleted} {stats:?}"
    );
    assert!(
        store
            .execution(&arn("order", "s04999"))
            .expect("reads")
            .is_some(),
        "the newest stays"
    );
    assert_eq!(
        store.execution(&arn("order", "s00000")).expect("reads"),
        None,
        "the oldest goes"
    );
}

#[test]
fn a_file_store_starts_empty() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let store = Store::open(Some(file.path()), Retention::default()).expect("opens");
    store
        .apply(&[result("order", "x", Status::Succeeded, 1)])
        .expect("applies");
    drop(store);
    let again = Store::open(Some(file.path()), Retention::default()).expect("opens");
    assert_eq!(again.stats().expect("stats").executions, 0);
}

#[test]
fn a_store_file_of_the_earlier_schema_opens_with_the_current_one() {
    // The schema before the lookup hashes: the file is emptied at every start (the store is
    // rebuilt from Kafka), so an old file needs no migration, only to open.
    let file = tempfile::NamedTempFile::new().expect("temp file");
    {
        let old = rusqlite::Connection::open(file.path()).expect("opens");
        old.execute_batch(
            "CREATE TABLE executions (id INTEGER PRIMARY KEY, execution_arn TEXT NOT NULL UNIQUE,
                 state_machine_arn TEXT NOT NULL, name TEXT NOT NULL, status INTEGER NOT NULL,
                 start_ms INTEGER NOT NULL);
             CREATE INDEX executions_by_name ON executions (name);
             INSERT INTO executions (execution_arn, state_machine_arn, name, status, start_ms)
                 VALUES ('arn:old', 'arn:machine', 'old', 1, 1);",
        )
        .expect("old schema");
    }
    let store = Store::open(Some(file.path()), Retention::default()).expect("opens");
    assert_eq!(store.stats().expect("stats").executions, 0);
    store
        .apply(&[result("order", "new", Status::Succeeded, 1)])
        .expect("applies");
    let by_name = Filter {
        name: Some("new".into()),
        ..Filter::default()
    };
    assert_eq!(
        names(&store.list(&by_name, 10, None).expect("lists")),
        ["new"]
    );
}

#[test]
fn names_and_keys_are_found_whether_or_not_they_are_the_arns_name() {
    let store = Store::open(None, Retention::default()).expect("opens");
    let named = |execution_arn: &str, name: &str, key: Option<&str>, start_ms: i64| {
        Record::Result(ResultRecord {
            execution_arn: execution_arn.into(),
            state_machine_arn: MACHINE.into(),
            name: name.into(),
            status: Status::Succeeded,
            start_ms,
            stop_ms: start_ms,
            output: None,
            error: None,
            cause: None,
            billed_duration_ms: 1,
            billed_memory_mb: 64,
            idempotency_key: key.map(str::to_owned),
            source: None,
        })
    };
    store
        .apply(&[
            // A gateway start: key = name = the ARN's name.
            named(&arn("order", "same"), "same", Some("same"), 1),
            // Another sender's key, and a name the ARN does not carry.
            named(&arn("order", "k"), "k", Some("the-key"), 2),
            named(&arn("order", "in-arn"), "elsewhere", None, 3),
            // Not an Express ARN at all.
            named("not-an-arn", "odd", Some("odd-key"), 4),
        ])
        .expect("applies");
    let list = |filter: Filter| {
        let page = store.list(&filter, 10, None).expect("lists");
        names(&page)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let by_name = |name: &str| Filter {
        name: Some(name.into()),
        ..Filter::default()
    };
    let by_key = |key: &str| Filter {
        idempotency_key: Some(key.into()),
        ..Filter::default()
    };
    assert_eq!(list(by_name("same")), ["same"]);
    assert_eq!(list(by_key("same")), ["same"]);
    assert_eq!(list(by_key("the-key")), ["k"]);
    assert!(list(by_key("k")).is_empty(), "k is a name, not a key");
    assert_eq!(list(by_name("elsewhere")), ["elsewhere"]);
    assert!(
        list(by_name("in-arn")).is_empty(),
        "in-arn is in the ARN only"
    );
    assert_eq!(list(by_name("odd")), ["odd"]);
    assert_eq!(list(by_key("odd-key")), ["odd"]);
    assert_eq!(
        list(Filter {
            name: Some("same".into()),
            state_machine_arn: Some(MACHINE.into()),
            status: Some(Status::Succeeded),
            started_after_ms: Some(1),
            ..Filter::default()
        }),
        ["same"]
    );
    for execution_arn in [arn("order", "in-arn"), "not-an-arn".to_owned()] {
        assert!(store.execution(&execution_arn).expect("reads").is_some());
    }
    // A redelivered result that now names another key replaces the row and its hashes.
    store
        .apply(&[named(&arn("order", "k"), "k", Some("new-key"), 2)])
        .expect("applies");
    assert!(list(by_key("the-key")).is_empty());
    assert_eq!(list(by_key("new-key")), ["k"]);
    assert_eq!(store.stats().expect("stats").executions, 4);
}

#[test]
fn a_store_that_cannot_be_opened_is_an_error() {
    let error = Store::open(
        Some(std::path::Path::new("/nonexistent/dir/store.db")),
        Retention::default(),
    );
    assert!(error.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_reads_both_topics_from_the_beginning_and_skips_malformed_records() {
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::util::Timeout;

    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("results", 2, 1).expect("topic");
    mock.create_topic("history", 2, 1).expect("topic");
    let settings = settings_of(&mock, 2);
    let producer: FutureProducer = settings.client().create().expect("producer");
    let execution = arn("order", "k1");
    let sends = [
        ("results", "not json".to_owned()),
        (
            "history",
            format!(
                r#"{{"id": "1", "previous_event_id": "0", "event_timestamp": "5", "type": "ExecutionStarted", "execution_arn": "{execution}", "details": {{"input": "{{}}"}}}}"#
            ),
        ),
        (
            "results",
            format!(
                r#"{{"executionArn": "{execution}", "name": "k1", "status": "SUCCEEDED", "startDate": "1970-01-01T00:00:00.005Z", "output": "{{}}"}}"#
            ),
        ),
    ];
    for (topic, payload) in &sends {
        producer
            .send(
                FutureRecord::to(topic).key(&execution).payload(payload),
                Timeout::Never,
            )
            .await
            .expect("produced");
    }
    let store = Arc::new(Store::open(None, Retention::default()).expect("opens"));
    let topics = store::ingest::Topics {
        results: "results".into(),
        history: Some("history".into()),
    };
    let counts = Arc::new(Counts::default());
    let (shutdown, task) = reading(&settings, store.clone(), topics, counts.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let seen = store.execution(&execution).expect("reads");
        let events = store.history(&execution, None, 10, false).expect("reads");
        if seen.as_ref().is_some_and(|e| e.status == Status::Succeeded)
            && events.is_some_and(|e| e.len() == 1)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ingested: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .expect("joins");
    use std::sync::atomic::Ordering::SeqCst;
    assert_eq!(counts.results.load(SeqCst), 1);
    assert_eq!(counts.events.load(SeqCst), 1);
    assert_eq!(counts.skipped.load(SeqCst), 1, "the malformed result");
    assert_eq!(counts.failed.load(SeqCst), 0);
}

/// Settings for a client of `mock`, whose topics have `partitions` partitions.
fn settings_of(
    mock: &rdkafka::mocking::MockCluster<'_, rdkafka::producer::DefaultProducerContext>,
    partitions: i32,
) -> runtime::kafka::KafkaSettings {
    runtime::kafka::KafkaSettings {
        brokers: mock.bootstrap_servers(),
        client_group: "store-test".into(),
        registry_topic: "registry".into(),
        partitions,
        overrides: Default::default(),
    }
}

/// The store reader on `topics` into `sink`, reporting to `observer`: its shutdown and task.
fn reading<S: store::ingest::Sink>(
    settings: &runtime::kafka::KafkaSettings,
    sink: Arc<S>,
    topics: store::ingest::Topics,
    observer: Arc<dyn store::ingest::Observer>,
) -> (
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let consumer = settings
        .reader_from_beginning("store", &topics.names())
        .expect("consumer");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(store::ingest::run(
        sink,
        consumer,
        topics,
        observer,
        shutdown.clone(),
    ));
    (shutdown, task)
}

/// A store whose disk is full for its first `refusals` writes.
struct FullDisk {
    store: Store,
    refusals: std::sync::atomic::AtomicUsize,
}

impl store::ingest::Sink for FullDisk {
    fn apply(&self, records: &[store::Record]) -> Result<(), store::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        if self
            .refusals
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(store::StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full".into()),
            )));
        }
        self.store.apply(records)
    }

    fn enforce_retention(&self, now_ms: i64) -> Result<u64, store::StoreError> {
        self.store.enforce_retention(now_ms)
    }
}

/// Before, a batch the database refused was dropped: those executions were missing from the
/// API until the gateway restarted. Now it is tried again until it is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_store_refuses_is_tried_again_until_it_is_written() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use std::sync::atomic::Ordering::SeqCst;

    let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    mock.create_topic("results", 1, 1).expect("topic");
    let settings = settings_of(&mock, 1);
    let producer: FutureProducer = settings.client().create().expect("producer");
    let executions: Vec<String> = (0..3).map(|i| arn("order", &format!("full-{i}"))).collect();
    for execution in &executions {
        let payload = format!(
            r#"{{"executionArn": "{execution}", "name": "n", "status": "SUCCEEDED", "startDate": "1970-01-01T00:00:00.005Z", "output": "{{}}"}}"#
        );
        producer
            .send(
                FutureRecord::to("results").key(execution).payload(&payload),
                rdkafka::util::Timeout::Never,
            )
            .await
            .expect("produced");
    }
    let full = Arc::new(FullDisk {
        store: Store::open(None, Retention::default()).expect("opens"),
        refusals: std::sync::atomic::AtomicUsize::new(3),
    });
    let topics = store::ingest::Topics {
        results: "results".into(),
        history: None,
    };
    let counts = Arc::new(Counts::default());
    let (shutdown, task) = reading(&settings, full.clone(), topics, counts.clone());
    // Three refusals: 100 + 200 + 400 ms of waits, then written.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while executions
        .iter()
        .any(|e| full.store.execution(e).expect("reads").is_none())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not written after {} refusals",
            3 - full.refusals.load(SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(full.refusals.load(SeqCst), 0, "every refusal was met");
    assert_eq!(counts.results.load(SeqCst), 3, "each written once");
    assert!(counts.failed.load(SeqCst) >= 3, "each refusal reported");
    // A store that never takes the batch still stops at shutdown.
    full.refusals.store(usize::MAX, SeqCst);
    let last = arn("order", "full-last");
    let payload = format!(
        r#"{{"executionArn": "{last}", "name": "n", "status": "FAILED", "startDate": "1970-01-01T00:00:00.005Z"}}"#
    );
    producer
        .send(
            FutureRecord::to("results").key(&last).payload(&payload),
            rdkafka::util::Timeout::Never,
        )
        .await
        .expect("produced");
    let failed_before = counts.failed.load(SeqCst);
    while counts.failed.load(SeqCst) == failed_before {
        assert!(tokio::time::Instant::now() < deadline, "refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops while retrying")
        .expect("joins");
}

/// Counts what the reader reports.
#[derive(Default)]
struct Counts {
    results: std::sync::atomic::AtomicUsize,
    events: std::sync::atomic::AtomicUsize,
    skipped: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
}

impl store::ingest::Observer for Counts {
    fn applied(&self, results: usize, events: usize) {
        self.results
            .fetch_add(results, std::sync::atomic::Ordering::SeqCst);
        self.events
            .fetch_add(events, std::sync::atomic::Ordering::SeqCst);
    }
    fn skipped(&self, kind: &'static str) {
        assert_eq!(kind, "result");
        self.skipped
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn failed(&self, records: usize) {
        self.failed
            .fetch_add(records, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A history that exercises the records: inputs and outputs, odd characters, a null and a
/// bare-value details.
fn engine_history() -> Vec<asl::history::HistoryEvent> {
    use asl::history::{HistoryEvent, HistoryEventType::*};
    let odd = "q\"b\\s\u{1}\né中\u{2028}😀";
    let types = [
        ExecutionStarted,
        PassStateEntered,
        PassStateExited,
        TaskStateEntered,
        TaskScheduled,
        TaskSucceeded,
        TaskStateExited,
        ChoiceStateEntered,
        ChoiceStateExited,
        SucceedStateEntered,
        ExecutionSucceeded,
    ];
    types
        .into_iter()
        .enumerate()
        .map(|(i, event_type)| {
            let id = i as u64 + 1;
            let details = match i {
                4 => serde_json::json!({"resource": "r", "parameters": {"k": odd}}),
                7 => serde_json::Value::Null,
                8 => serde_json::json!(odd),
                _ => serde_json::json!({"name": format!("S{i}{odd}"), "input": {"n": i, "s": odd}, "output": [i, 2.5]}),
            };
            HistoryEvent {
                id,
                previous_event_id: id - 1,
                event_timestamp_ms: 1_700_000_000_000 + i as i64,
                event_type,
                details,
            }
        })
        .collect()
}

/// Writes `events` through the worker's Kafka history sink (its own producer) in `framing`
/// to a fresh topic of `mock`, and returns a store that ingested the topic.
async fn ingested(
    mock: &rdkafka::mocking::MockCluster<'_, rdkafka::producer::DefaultProducerContext>,
    topic: &str,
    framing: runtime::sinks::Framing,
    execution: &str,
    events: &[asl::history::HistoryEvent],
) -> (Arc<Store>, Result<(), runtime::sinks::SinkError>) {
    use runtime::sinks::{HistoryBatch, HistoryProducer, HistorySink, KafkaSink};
    mock.create_topic(topic, 1, 1).expect("topic");
    let settings = settings_of(mock, 1);
    // The producer's own limit is the sink's: librdkafka refuses a larger record.
    let mut config = settings.client();
    config.set("message.max.bytes", framing.max_record_bytes.to_string());
    let producer = HistoryProducer::new(&config).expect("producer");
    let partitions = producer.partitions_of(topic);
    assert_eq!(partitions, Some(1), "the sink places records itself");
    let sink = KafkaSink::counted(producer, topic.to_owned(), partitions).with_framing(framing);
    let written = tokio::time::timeout(
        Duration::from_secs(20),
        sink.write(HistoryBatch {
            execution_arn: execution,
            attempt: 1,
            events,
        }),
    )
    .await
    .expect("the sink answers");
    let store = Arc::new(Store::open(None, Retention::default()).expect("opens"));
    let topics = store::ingest::Topics {
        results: format!("{topic}-results"),
        history: Some(topic.to_owned()),
    };
    mock.create_topic(&topics.results, 1, 1).expect("topic");
    let (shutdown, task) = reading(&settings, store.clone(), topics, Arc::new(()));
    let expected = if written.is_ok() { events.len() } else { 0 };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let seen = store
            .history(execution, None, 100, false)
            .expect("reads")
            .map_or(0, |e| e.len());
        if seen == expected
            && (expected > 0 || tokio::time::Instant::now() + Duration::from_secs(18) > deadline)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{seen} of {expected} events ingested"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .expect("joins");
    (store, written)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_written_in_either_format_reads_back_the_same() {
    use runtime::sinks::{Framing, HistoryFormat};
    let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let execution = arn("order", "formats-é");
    let events = engine_history();
    let mut histories = Vec::new();
    for (topic, format, max_record_bytes) in [
        ("history-events", HistoryFormat::Events, 1_000_000),
        ("history-execution", HistoryFormat::Execution, 1_000_000),
        // Smaller than the execution's record: split into several, each accepted by the
        // producer's own message.max.bytes check.
        ("history-split", HistoryFormat::Execution, 1_500),
    ] {
        let framing = Framing {
            format,
            max_record_bytes,
        };
        let (store, written) = ingested(&mock, topic, framing, &execution, &events).await;
        written.unwrap_or_else(|error| panic!("{topic}: {error}"));
        let history = store
            .history(&execution, None, 100, false)
            .expect("reads")
            .expect("the execution is known");
        assert_eq!(history.len(), events.len(), "{topic}");
        histories.push(history);
    }
    // What GetExecutionHistory serves (the store's events) is the same for every format.
    assert_eq!(histories[0], histories[1]);
    assert_eq!(histories[0], histories[2]);
    let details: serde_json::Value =
        serde_json::from_str(&histories[1][1].details).expect("JSON details");
    assert_eq!(
        details["inputDetails"],
        serde_json::json!({"truncated": false})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_larger_than_a_record_fails_the_write_and_nothing_is_half_written() {
    use runtime::sinks::{Framing, HistoryFormat, SinkError};
    let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let execution = arn("order", "huge");
    let mut events = engine_history();
    events[2].details = serde_json::json!({"name": "Big", "input": "x".repeat(4000)});
    let framing = Framing {
        format: HistoryFormat::Execution,
        max_record_bytes: 2_000,
    };
    let (store, written) = ingested(&mock, "history-huge", framing, &execution, &events).await;
    match written {
        Err(SinkError::TooLarge { event_id, .. }) => assert_eq!(event_id, 3),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(
        store.history(&execution, None, 100, false).expect("reads"),
        None,
        "no part of the history was written"
    );
}

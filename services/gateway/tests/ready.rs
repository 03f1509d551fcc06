//! `/readyz` (librdkafka's mock cluster, in this process): a gateway answers 503 until it
//! has read the state machine registry to its end, and once it answers 200 it knows every
//! state machine registered before it started — through another gateway too; and one
//! created through another gateway a moment ago is found by a second look.

use gateway::config::GatewayConfig;
use gateway::metrics::Metrics;
use gateway::Gateway;
use rdkafka::mocking::MockCluster;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;

const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;

fn config(brokers: &str) -> GatewayConfig {
    GatewayConfig {
        brokers: brokers.to_owned(),
        partitions: 3,
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(
            "the-gateway-readiness-tests-task-token-key",
        )),
        ..GatewayConfig::default()
    }
}

/// One HTTP/1.1 exchange on a fresh connection: the status and the body.
async fn exchange(address: SocketAddr, request: String) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("reads");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

async fn readyz(address: SocketAddr) -> (u16, String) {
    exchange(
        address,
        "GET /readyz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n".to_owned(),
    )
    .await
}

/// An API call: its status and body.
async fn call(address: SocketAddr, operation: &str, body: serde_json::Value) -> (u16, String) {
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\
         Content-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: AWSStepFunctions.{operation}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(address, request).await
}

async fn describe(address: SocketAddr, arn: &str) -> u16 {
    let body = serde_json::json!({ "stateMachineArn": arn });
    call(address, "DescribeStateMachine", body).await.0
}

/// A mock cluster with the topics a gateway needs (it creates none through the admin API).
fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).expect("mock cluster");
    for topic in [
        "quickstep.start",
        "quickstep.results",
        "quickstep.state-machines",
        "quickstep.callbacks",
    ] {
        cluster.create_topic(topic, 3, 1).expect("topic");
    }
    cluster
}

/// `gateway` served on a free port: its address, its shutdown and its task.
async fn serve(
    gateway: Gateway,
) -> (
    SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), gateway::GatewayError>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(gateway.serve(listener, shutdown.clone()));
    (address, shutdown, served)
}

/// Asks `/readyz` until it answers 200: how many 503s came first.
async fn until_ready(address: SocketAddr) -> usize {
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut unready = 0;
    loop {
        let (status, body) = readyz(address).await;
        if status == 200 {
            assert_eq!(body, "ready");
            return unready;
        }
        assert_eq!(status, 503, "{body}");
        assert_eq!(body, "reading the state machine registry");
        unready += 1;
        assert!(Instant::now() < give_up, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_once_the_registry_is_read_and_the_machines_are_known() {
    let cluster = cluster();
    let brokers = cluster.bootstrap_servers();
    // Registered through one gateway, before the other starts.
    let first = Gateway::build(config(&brokers), Metrics::default())
        .await
        .expect("gateway");
    let mut arns = Vec::new();
    for i in 0..20 {
        arns.push(
            first
                .register(&format!("orders-{i}"), PASS)
                .await
                .expect("registered"),
        );
    }
    // Every broker round trip now takes 200 ms: the second gateway answers HTTP long before
    // its reader has fetched the registry.
    cluster
        .broker_round_trip_time(1, Duration::from_millis(200))
        .expect("rtt");
    let second = Gateway::build(config(&brokers), Metrics::default())
        .await
        .expect("gateway");
    assert!(!second.ready(), "nothing read yet");
    let (address, shutdown, served) = serve(second).await;
    let unready = until_ready(address).await;
    assert!(
        unready > 0,
        "answered 503 while the registry was being read"
    );
    // Ready means read: every machine registered before is known, the last one too.
    for arn in &arns {
        assert_eq!(
            describe(address, arn).await,
            200,
            "{arn} (after {unready} 503s)"
        );
    }
    shutdown.cancel();
    served.await.expect("joins").expect("served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_stays_503_while_the_broker_is_down_and_answers_once_it_is_back() {
    let cluster = cluster();
    let brokers = cluster.bootstrap_servers();
    let gateway = Gateway::build(config(&brokers), Metrics::default())
        .await
        .expect("gateway");
    cluster.broker_down(1).expect("down");
    let (address, shutdown, served) = serve(gateway).await;
    // Three seconds: several catch-up rounds fail (one a second), none confirms.
    let down_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < down_until {
        assert_eq!(readyz(address).await.0, 503, "ready without reading");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.broker_up(1).expect("up");
    until_ready(address).await;
    shutdown.cancel();
    served.await.expect("joins").expect("served");
}

/// AWS lets a caller start a state machine as soon as CreateStateMachine returns; with
/// several gateways behind one address the create may have gone to another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_created_through_another_gateway_a_moment_ago_is_found() {
    let cluster = cluster();
    let brokers = cluster.bootstrap_servers();
    let first = Gateway::build(config(&brokers), Metrics::default())
        .await
        .expect("gateway");
    let second = Gateway::build(config(&brokers), Metrics::default())
        .await
        .expect("gateway");
    let (address, shutdown, served) = serve(second).await;
    until_ready(address).await;
    // Every broker round trip now takes 200 ms: the second gateway's reader learns of a
    // revision at least that long after it was written, and the calls below come at once.
    cluster
        .broker_round_trip_time(1, Duration::from_millis(200))
        .expect("rtt");
    for (i, operation) in [
        "DescribeStateMachine",
        "StartExecution",
        "StartSyncExecution",
    ]
    .into_iter()
    .enumerate()
    {
        let arn = first
            .register(&format!("fresh-{i}"), PASS)
            .await
            .expect("registered");
        let (status, body) = call(
            address,
            operation,
            serde_json::json!({ "stateMachineArn": arn, "input": "{}" }),
        )
        .await;
        assert_eq!(status, 200, "{operation} of {arn}: {body}");
    }
    // A machine that does not exist still does not, after its second look.
    let (status, body) = call(
        address,
        "StartExecution",
        serde_json::json!({
            "stateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:never-created"
        }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("StateMachineDoesNotExist"), "{body}");
    shutdown.cancel();
    served.await.expect("joins").expect("served");
}

/// A registry whose last record is a transaction's commit marker: the reader never sees the
/// marker, so its applied offset stays one short of the end while the consumer is past it —
/// a round takes that for read after a short grace (a round that waited for the marker to be
/// applied would never confirm, and the gateway would never be ready). On a real broker
/// (QUICKSTEP_TEST_BROKERS, as `./test` sets): librdkafka's mock cluster writes no markers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_ending_in_a_transaction_marker_is_read() {
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
    let Some(brokers) = std::env::var("QUICKSTEP_TEST_BROKERS")
        .ok()
        .filter(|b| !b.is_empty())
    else {
        assert!(
            std::env::var("QUICKSTEP_BROKER_TESTS_REQUIRED").as_deref() != Ok("1"),
            "QUICKSTEP_BROKER_TESTS_REQUIRED=1 but QUICKSTEP_TEST_BROKERS is not set"
        );
        eprintln!(
            "SKIP a_registry_ending_in_a_transaction_marker_is_read: no QUICKSTEP_TEST_BROKERS"
        );
        return;
    };
    // Topics of this run only: the shared broker keeps others' registries.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    let config = || GatewayConfig {
        registry_topic: format!("qs-test-ready-{run}-registry"),
        start_topic: format!("qs-test-ready-{run}-start"),
        callbacks_topic: format!("qs-test-ready-{run}-callbacks"),
        results_topic: format!("qs-test-ready-{run}-results"),
        // Six partitions, as deployed: a round that asked their ends behind the reader's
        // long-poll fetches took ~3 s, past the second look's cap (see the last assertion).
        partitions: 6,
        ..config(&brokers)
    };
    let first = Gateway::build(config(), Metrics::default())
        .await
        .expect("gateway");
    let arn = first
        .register("before-the-marker", PASS)
        .await
        .expect("registered");
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("transactional.id", format!("qs-test-ready-{run}"))
        .create()
        .expect("producer");
    producer
        .init_transactions(Duration::from_secs(30))
        .expect("init");
    producer.begin_transaction().expect("begin");
    // A tombstone of a machine that never existed, on every partition: deletes nothing, and
    // each partition then ends in a commit marker.
    for partition in 0..6 {
        producer
            .send(
                FutureRecord::<str, [u8]>::to(&config().registry_topic)
                    .key("never-existed")
                    .partition(partition),
                Duration::from_secs(10),
            )
            .await
            .expect("produced");
    }
    producer
        .commit_transaction(Duration::from_secs(30))
        .expect("committed");
    let second = Gateway::build(config(), Metrics::default())
        .await
        .expect("gateway");
    let (address, shutdown, served) = serve(second).await;
    until_ready(address).await;
    assert_eq!(describe(address, &arn).await, 200, "{arn}");
    // And a second look on the quiet registry confirms, rather than running into its 2 s
    // cap, for a machine that does not exist.
    let started = Instant::now();
    let missing = arn.replace("before-the-marker", "never-existed");
    assert_eq!(describe(address, &missing).await, 400);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the second look ran into its cap instead of confirming: {:?}",
        started.elapsed()
    );
    shutdown.cancel();
    served.await.expect("joins").expect("served");
}

#[tokio::test]
async fn an_in_memory_gateway_is_ready_at_once() {
    let (gateway, _) = Gateway::in_memory(config("127.0.0.1:1")).expect("gateway");
    assert!(gateway.ready());
}

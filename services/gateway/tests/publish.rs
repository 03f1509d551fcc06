//! StartExecution on Kafka (librdkafka's mock cluster, in this process): each request answers
//! only after its own record is acknowledged, many requests in flight share produce batches,
//! every record carries its key and headers, and a record Kafka refuses or does not
//! acknowledge in time is an InternalFailure, never a success.

mod support;
use support::call;

use axum::http::StatusCode;
use futures::future::join_all;
use gateway::config::GatewayConfig;
use gateway::metrics::Metrics;
use gateway::publish::{KafkaPublisher, Lingers, Publisher, Record};
use gateway::Gateway;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::types::RDKafkaApiKey;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use runtime::kafka::KafkaSettings;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const TOPICS: &[&str] = &[
    "quickstep.start",
    "quickstep.results",
    "quickstep.state-machines",
    "quickstep.callbacks",
];
/// The defaults (`produce_linger_ms`, `produce_enqueue_linger_ms`).
const LINGERS: Lingers = Lingers {
    publish_ms: 1,
    enqueue_ms: 5,
};
const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;
const ARN: &str = "arn:aws:states:local:000000000000:stateMachine:orders";

fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).expect("mock cluster");
    for topic in TOPICS {
        cluster.create_topic(topic, 3, 1).expect("topic");
    }
    cluster
}

fn settings(brokers: &str) -> KafkaSettings {
    KafkaSettings {
        brokers: brokers.to_owned(),
        client_group: "gateway-publish-test".into(),
        registry_topic: "quickstep.state-machines".into(),
        partitions: 3,
        overrides: Default::default(),
    }
}

fn config(brokers: &str) -> GatewayConfig {
    GatewayConfig {
        brokers: brokers.to_owned(),
        partitions: 3,
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(
            "the-gateway-publish-tests-task-token-key",
        )),
        ..GatewayConfig::default()
    }
}

/// A gateway on `brokers` with the Pass machine `orders` registered.
async fn gateway(brokers: &str) -> Arc<Gateway> {
    let gateway = Arc::new(
        Gateway::build(config(brokers), Metrics::default())
            .await
            .expect("gateway"),
    );
    gateway.register("orders", PASS).await.expect("registered");
    gateway
}

/// Every record of `topic` from the beginning, until `count` arrived.
async fn read(brokers: &str, topic: &str, count: usize) -> Vec<rdkafka::message::OwnedMessage> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "gateway-publish-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..3 {
        partitions
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    let mut messages = Vec::new();
    while messages.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .expect("the records arrive")
            .expect("a record");
        messages.push(message.detach());
    }
    messages
}

fn header(message: &rdkafka::message::OwnedMessage, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[tokio::test]
async fn concurrent_starts_each_answer_after_their_own_record_with_key_and_headers() {
    let cluster = cluster();
    let brokers = cluster.bootstrap_servers();
    let gateway = gateway(&brokers).await;
    let starts = (0..300).map(|i| {
        let gateway = gateway.clone();
        async move {
            let body = json!({"stateMachineArn": ARN, "name": format!("e-{i}"), "input": format!("{{\"n\":{i}}}")});
            call(&gateway, "StartExecution", body).await
        }
    });
    let answers = join_all(starts).await;
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(
            body["executionArn"],
            format!("arn:aws:states:local:000000000000:express:orders:e-{i}")
        );
    }
    let records = read(&brokers, "quickstep.start", 300).await;
    let by_key: HashMap<String, _> = records
        .iter()
        .map(|m| {
            let key = String::from_utf8(m.key().expect("key").to_vec()).expect("text");
            (key, m)
        })
        .collect();
    assert_eq!(
        by_key.len(),
        300,
        "one record per start, none lost or doubled"
    );
    for i in 0..300 {
        let record = by_key[&format!("e-{i}")];
        assert_eq!(record.payload(), Some(format!("{{\"n\":{i}}}").as_bytes()));
        assert_eq!(
            header(record, "quickstep-state-machine").as_deref(),
            Some("orders")
        );
        assert_eq!(
            header(record, "quickstep-execution-name"),
            Some(format!("e-{i}"))
        );
        assert!(header(record, "traceparent").is_some_and(|t| t.starts_with("00-")));
    }
}

#[tokio::test]
async fn a_start_that_kafka_refuses_is_an_internal_failure() {
    let cluster = cluster();
    let brokers = cluster.bootstrap_servers();
    let gateway = gateway(&brokers).await;
    // Not retriable: the record's delivery fails, and so does the request.
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 16],
    );
    let (status, body) = call(
        &gateway,
        "StartExecution",
        json!({"stateMachineArn": ARN, "name": "refused", "input": "{}"}),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["__type"], "InternalFailure");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Kafka did not accept the record")),
        "{body}"
    );
}

#[tokio::test]
async fn a_record_not_acknowledged_in_time_is_an_error() {
    let cluster = cluster();
    let brokers = cluster.bootstrap_servers();
    let publisher = KafkaPublisher::connect(&settings(&brokers), LINGERS, Duration::from_secs(2))
        .expect("publisher");
    let record = |key: &str| Record {
        topic: "quickstep.start".into(),
        key: key.into(),
        payload: Some(b"{}".to_vec()),
        headers: vec![("quickstep-state-machine".into(), "orders".into())],
    };
    publisher
        .publish(record("before"))
        .await
        .expect("acknowledged while the broker is up");
    cluster.broker_down(1).expect("broker down");
    let started = std::time::Instant::now();
    let error = publisher
        .publish(record("during"))
        .await
        .expect_err("no broker, no acknowledgement");
    assert!(
        error.contains("in time") || error.contains("timed out"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered after the timeout, not later: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_published_record_never_waits_behind_the_enqueued_records_linger() {
    let cluster = cluster();
    let brokers = cluster.bootstrap_servers();
    // Records nobody waits for linger a minute here: were they batched with the records
    // requests wait for, the publish below would wait that minute too.
    let lingers = Lingers {
        publish_ms: 1,
        enqueue_ms: 60_000,
    };
    let publisher = KafkaPublisher::connect(&settings(&brokers), lingers, Duration::from_secs(120))
        .expect("publisher");
    let record = |topic: &str, key: &str| Record {
        topic: topic.into(),
        key: key.into(),
        payload: Some(b"{}".to_vec()),
        headers: Vec::new(),
    };
    publisher
        .enqueue(record("quickstep.results", "lingering"))
        .await
        .expect("enqueued");
    tokio::time::timeout(
        Duration::from_secs(20),
        publisher.publish(record("quickstep.start", "waited-for")),
    )
    .await
    .expect("acknowledged long before the enqueued record's linger ends")
    .expect("acknowledged");
    let records = read(&brokers, "quickstep.start", 1).await;
    assert_eq!(records[0].key(), Some(&b"waited-for"[..]));
}

#[tokio::test]
async fn a_sync_execution_answers_without_waiting_for_its_result_record_which_still_arrives() {
    let cluster = cluster();
    let brokers = cluster.bootstrap_servers();
    let gateway = gateway(&brokers).await;
    let (status, body) = call(
        &gateway,
        "StartSyncExecution",
        json!({"stateMachineArn": ARN, "name": "sync-1", "input": "{\"n\":1}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "SUCCEEDED");
    let records = read(&brokers, "quickstep.results", 1).await;
    assert_eq!(records[0].key(), Some(&b"sync-1"[..]));
    let result: Value = serde_json::from_slice(records[0].payload().expect("value")).expect("JSON");
    assert_eq!(
        result["executionArn"],
        "arn:aws:states:local:000000000000:express:orders:sync-1"
    );
    assert_eq!(result["output"], "{\"n\":1}");

    // At most once: the answer does not wait for the result's acknowledgement, so it comes
    // while Kafka is unreachable (a StartExecution would wait, then fail, after
    // produce_timeout_ms: 30 s).
    cluster.broker_down(1).expect("broker down");
    let started = std::time::Instant::now();
    let (status, body) = call(
        &gateway,
        "StartSyncExecution",
        json!({"stateMachineArn": ARN, "name": "sync-2", "input": "{}"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "SUCCEEDED");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

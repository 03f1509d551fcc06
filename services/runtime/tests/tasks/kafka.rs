//! The Kafka task (`quickstep:kafka.produce`) on librdkafka's mock cluster.

use super::common::{run, task};
use asl::validate::MachineType;
use runtime::clock::SystemClock;
use runtime::tasks::callback::CallbackRegistry;
use runtime::tasks::config::TasksConfig;
use runtime::tasks::Integrations;
use serde_json::json;
use std::sync::Arc;
#[tokio::test]
async fn kafka_task_produces_and_reports_the_offset() {
    use rdkafka::config::ClientConfig;
    use rdkafka::mocking::MockCluster;
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("orders", 1, 1).unwrap();
    let producer: rdkafka::producer::FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    let tasks = Integrations::new(
        &TasksConfig::default(),
        Some(producer),
        CallbackRegistry::new(Arc::new(SystemClock), super::common::keys()),
    )
    .unwrap();
    let definition = task(
        json!({"Resource": "arn:aws:states:::quickstep:kafka.produce",
        "Parameters": {"Topic": "orders", "Key.$": "$.id", "Headers": {"kind": "order"}, "Value.$": "$"}}),
    );
    for expected in 0..2 {
        let outcome = run(
            &definition,
            json!({"id": "o-1"}),
            MachineType::Express,
            &tasks,
        )
        .await;
        assert_eq!(
            outcome.output,
            Some(json!({"Topic": "orders", "Partition": 0, "Offset": expected}))
        );
    }
    let definition = task(
        json!({"Resource": "arn:aws:states:::quickstep:kafka.produce", "Parameters": {"Value": 1}}),
    );
    let outcome = run(&definition, json!({}), MachineType::Express, &tasks).await;
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
}

//! `.waitForTaskToken` across processes: a worker's Kafka task hands its token out on a topic
//! and waits; a SendTaskSuccess or SendTaskFailure produced to the callback topic (as the
//! gateway forwards it) reaches the worker that holds the token and ends the execution.

use crate::common::*;
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_on_the_topic_reach_the_waiting_worker() {
    let Some(env) = Env::get("callbacks") else {
        return;
    };
    let scenario = Scenario::new(&env.brokers, "callbacks", 1).await;
    let tokens = unique("qs-test-callbacks-tokens");
    create_topics(&env.brokers, &[&tokens, "quickstep.callbacks"]).await;
    let machine = json!({
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::quickstep:kafka.produce.waitForTaskToken",
                "Parameters": {"Topic": tokens, "Key.$": "$.id", "Value": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 60,
                "End": true
            }
        }
    });
    std::fs::write(
        scenario.definitions().join("ask.asl.json"),
        machine.to_string(),
    )
    .expect("definition");
    let _worker = scenario.worker("w0", &[]);
    wait_group(&env.brokers, &scenario.group, 1, Duration::from_secs(60)).await;
    let prefix = unique("callbacks");
    let starts: Vec<Start> = ["yes", "no"]
        .iter()
        .map(|id| {
            Start::new(
                format!("{prefix}-{id}"),
                "ask",
                &json!({"id": format!("{prefix}-{id}")}),
            )
        })
        .collect();
    let producer = producer(&env.brokers);
    produce(&producer, &scenario.input, &starts).await;
    let mut handed_out = Reader::new(&env.brokers, &tokens);
    assert!(
        handed_out.read_keys(2, Duration::from_secs(60)).await,
        "the tasks did not hand out their tokens"
    );
    let token = |id: &str| {
        handed_out.by_key[&format!("{prefix}-{id}")][0].json["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    };
    // A token with one character changed: the workers drop it (it would fail "yes", whose
    // success is asserted below).
    let mut forged = token("yes").into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("base64url");
    let answers = [
        json!({"action": "SendTaskFailure", "taskToken": forged, "error": "Forged"}),
        json!({"action": "SendTaskHeartbeat", "taskToken": token("yes")}),
        json!({"action": "SendTaskSuccess", "taskToken": token("yes"), "output": "{\"approved\":true}"}),
        json!({"action": "SendTaskFailure", "taskToken": token("no"), "error": "Rejected", "cause": "no budget"}),
    ];
    for answer in &answers {
        let key = answer["taskToken"].as_str().expect("token").to_owned();
        let payload = answer.to_string();
        producer
            .send(
                FutureRecord::to("quickstep.callbacks")
                    .key(&key)
                    .payload(&payload),
                Timeout::Never,
            )
            .await
            .expect("the callback is acknowledged");
    }
    let mut results = Reader::new(&env.brokers, &scenario.results);
    assert!(
        results.read_keys(2, Duration::from_secs(60)).await,
        "the executions did not end"
    );
    let yes = &results.by_key[&format!("{prefix}-yes")][0];
    assert_eq!(
        (yes.status(), yes.output()),
        ("SUCCEEDED", json!({"approved": true}))
    );
    let no = &results.by_key[&format!("{prefix}-no")][0];
    assert_eq!((no.status(), no.error()), ("FAILED", "Rejected"));
}

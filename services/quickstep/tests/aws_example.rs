//! The AWS example (`examples/aws/order.asl.json`) through the built `quickstep run` on a
//! real moto server, with nothing in the environment but `AWS_ENDPOINT_URL`, a region and
//! test credentials; then with the endpoint from `[tasks.aws]` instead; then under a Step
//! Functions Local mock test case with no AWS at all. Without moto this fails with
//! instructions unless `QUICKSTEP_SKIP_MOTO=1`.

use assert_cmd::Command;
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const SKIP_ENV: &str = "QUICKSTEP_SKIP_MOTO";

struct Moto(Child, u16);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> Option<Moto> {
    let found = std::process::Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
            eprintln!("moto_server not found; skipping because {SKIP_ENV}=1");
            return None;
        }
        panic!(
            "moto_server not found on PATH: this test needs a real moto server \
             (python3 -m pip install 'moto[server]'), or set {SKIP_ENV}=1 to skip it"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let mut moto = Moto(child, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = moto.0.try_wait() {
            panic!("moto_server exited: {status}");
        }
        assert!(Instant::now() < deadline, "moto_server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(moto)
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/aws")
        .join(name)
}

fn last_line(output: &[u8]) -> Value {
    let text = String::from_utf8_lossy(output);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `quickstep run` with an empty environment plus `vars`.
fn run(vars: &[(&str, &str)], args: &[&str]) -> (Value, String) {
    let home = tempfile::tempdir().unwrap();
    let output = Command::cargo_bin("quickstep")
        .unwrap()
        .env_clear()
        .env("HOME", home.path())
        .envs(vars.iter().copied())
        .arg("run")
        .arg(example("order.asl.json"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (last_line(&output.stdout), stderr)
}

#[test]
fn the_example_runs_green_on_moto_with_only_the_sdk_environment() {
    let Some(moto) = moto() else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.1);
    let secret = "test-secret-never-printed";
    let vars = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ];
    let input = example("order.input.json");
    let (outcome, stderr) = run(&vars, &["--input-file", input.to_str().unwrap()]);
    assert_eq!(outcome["status"], "SUCCEEDED", "{outcome}\n{stderr}");
    let output = &outcome["output"];
    assert_eq!(
        output["stored"]["Item"],
        json!({"id": {"S": "order-1"}, "total": {"N": "42"}}),
        "{output}"
    );
    assert!(
        output["sent"]["MessageId"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{output}"
    );
    assert!(output["published"]["MessageId"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(output["event"]["FailedEntryCount"], 0, "{output}");
    assert_eq!(
        output["duplicate"]["Error"], "DynamoDB.ConditionalCheckFailedException",
        "{output}"
    );
    assert!(!outcome.to_string().contains(secret) && !stderr.contains(secret));

    // The message really is on the queue: read it back through the aws-sdk integration.
    let reader = r#"{"StartAt": "R", "States": {"R": {"Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sqs:receiveMessage",
        "Parameters": {"QueueUrl.$": "$.url"}, "End": true}}}"#;
    let dir = tempfile::tempdir().unwrap();
    let reader_path = dir.path().join("reader.asl.json");
    std::fs::write(&reader_path, reader).unwrap();
    let output = Command::cargo_bin("quickstep")
        .unwrap()
        .env_clear()
        .envs(vars.iter().copied())
        .arg("run")
        .arg(&reader_path)
        .args([
            "--input",
            &json!({"url": output["queue"]["Url"]}).to_string(),
        ])
        .output()
        .unwrap();
    let received = last_line(&output.stdout);
    let body = received["output"]["Messages"][0]["Body"]
        .as_str()
        .expect("a message");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"id": {"S": "order-1"}, "total": {"N": "42"}})
    );

    // The endpoint from the configuration file's [tasks.aws] section instead: a second
    // order on the same moto (the table, queue and topic exist: CreateTable's Catch).
    let config = dir.path().join("quickstep.toml");
    let services = ["dynamodb", "sqs", "sns", "eventbridge"];
    let endpoints: Vec<String> = services
        .iter()
        .map(|s| format!("{s} = \"{endpoint}\""))
        .collect();
    std::fs::write(
        &config,
        format!(
            "[tasks.aws]\nregion = \"us-east-1\"\n[tasks.aws.endpoints]\n{}\n",
            endpoints.join("\n")
        ),
    )
    .unwrap();
    let (outcome, stderr) = run(
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ],
        &[
            "--config",
            config.to_str().unwrap(),
            "--input",
            r#"{"id": "order-2", "total": 7}"#,
        ],
    );
    assert_eq!(outcome["status"], "SUCCEEDED", "{outcome}\n{stderr}");
    assert_eq!(
        outcome["output"]["stored"]["Item"]["id"],
        json!({"S": "order-2"})
    );
}

#[test]
fn mocked_states_never_call_aws() {
    // No endpoint, no region, no credentials: every AWS state is mocked.
    let dir = tempfile::tempdir().unwrap();
    let mocks = dir.path().join("MockConfigFile.json");
    let states = [
        "CreateTable",
        "CreateQueue",
        "CreateTopic",
        "StoreOrder",
        "ReadOrder",
        "Queue",
        "Announce",
        "Event",
        "StoreAgain",
    ];
    let case: serde_json::Map<String, Value> = states
        .iter()
        .map(|s| (s.to_string(), Value::String(format!("{s}Mock"))))
        .collect();
    let mut responses = serde_json::Map::new();
    for state in states {
        let response = match state {
            "StoreAgain" => json!({"0": {"Throw": {
                "Error": "DynamoDB.ConditionalCheckFailedException", "Cause": "mocked"}}}),
            "ReadOrder" => json!({"0": {"Return": {"Item": {"id": {"S": "m"}}}}}),
            "CreateQueue" => json!({"0": {"Return": {"QueueUrl": "http://q"}}}),
            "CreateTopic" => json!({"0": {"Return": {"TopicArn": "arn:t"}}}),
            "Queue" => json!({"0": {"Return": {"MessageId": "1", "MD5OfMessageBody": "x"}}}),
            "Announce" => json!({"0": {"Return": {"MessageId": "2"}}}),
            "Event" => {
                json!({"0": {"Return": {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}}})
            }
            _ => json!({"0": {"Return": {}}}),
        };
        responses.insert(format!("{state}Mock"), response);
    }
    std::fs::write(
        &mocks,
        json!({"StateMachines": {"order": {"TestCases": {"Mocked": case}}},
               "MockedResponses": responses})
        .to_string(),
    )
    .unwrap();
    let (outcome, stderr) = run(
        &[("AWS_EC2_METADATA_DISABLED", "true")],
        &[
            "--input",
            r#"{"id": "m", "total": 1}"#,
            "--mock-config",
            mocks.to_str().unwrap(),
            "--test-case",
            "Mocked",
        ],
    );
    assert_eq!(outcome["status"], "SUCCEEDED", "{outcome}\n{stderr}");
    assert_eq!(outcome["output"]["duplicate"]["Cause"], "mocked");
}

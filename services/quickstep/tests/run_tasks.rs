//! `quickstep run` with the task integrations: a Lambda endpoint from the environment or a
//! configuration file, and Step Functions Local mock test cases.

use assert_cmd::Command;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;

/// A one-request Lambda-compatible server: answers with the request's body (identity).
fn identity_lambda() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut line, mut length, mut path) = (String::new(), 0usize, String::new());
            reader.read_line(&mut path).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            assert!(
                path.contains("/2015-03-31/functions/greet/invocations"),
                "{path}"
            );
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    format!("http://{address}")
}

fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quickstep-run-tasks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn last_line(output: &[u8]) -> Value {
    let text = String::from_utf8_lossy(output);
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap()
}

const DEFINITION: &str = r#"{"StartAt": "Greet", "States": {"Greet": {"Type": "Task",
  "Resource": "arn:aws:lambda:us-east-1:111111111111:function:greet", "End": true}}}"#;

#[test]
fn run_calls_lambda_at_the_endpoint_from_env_or_config() {
    let definition = scratch("greet.asl.json", DEFINITION);
    let endpoint = identity_lambda();
    let output = Command::cargo_bin("quickstep")
        .unwrap()
        .env("QUICKSTEP_LAMBDA_ENDPOINT", &endpoint)
        .args([
            "run",
            definition.to_str().unwrap(),
            "--input",
            r#"{"name": "Ada"}"#,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        last_line(&output.stdout),
        json!({"status": "SUCCEEDED", "output": {"name": "Ada"}})
    );
    let config = scratch(
        "worker.toml",
        &format!("[tasks.lambda]\nendpoint = \"{endpoint}\"\n"),
    );
    let output = Command::cargo_bin("quickstep")
        .unwrap()
        .env_remove("QUICKSTEP_LAMBDA_ENDPOINT")
        .args([
            "run",
            definition.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        last_line(&output.stdout),
        json!({"status": "SUCCEEDED", "output": {}})
    );
    // Without an endpoint the task fails, saying what to configure.
    let output = Command::cargo_bin("quickstep")
        .unwrap()
        .env_remove("QUICKSTEP_LAMBDA_ENDPOINT")
        .args(["run", definition.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(last_line(&output.stdout)["cause"]
        .as_str()
        .unwrap()
        .contains("QUICKSTEP_LAMBDA_ENDPOINT"));
}

#[test]
fn run_with_a_mock_test_case() {
    let definition = scratch("greet.asl.json", DEFINITION);
    let mocks = scratch(
        "MockConfigFile.json",
        &json!({
            "StateMachines": {"greet": {"TestCases": {
                "Happy": {"Greet": "Hello"}, "Sad": {"Greet": "Broken"}}}},
            "MockedResponses": {
                "Hello": {"0": {"Return": {"greeting": "hi"}}},
                "Broken": {"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "down"}}}}
        })
        .to_string(),
    );
    let run = |case: &str| {
        Command::cargo_bin("quickstep")
            .unwrap()
            .env_remove("QUICKSTEP_LAMBDA_ENDPOINT")
            .args(["run", definition.to_str().unwrap(), "--clock", "virtual"])
            .args([
                "--mock-config",
                mocks.to_str().unwrap(),
                "--test-case",
                case,
            ])
            .output()
            .unwrap()
    };
    assert_eq!(
        last_line(&run("Happy").stdout),
        json!({"status": "SUCCEEDED", "output": {"greeting": "hi"}})
    );
    assert_eq!(
        last_line(&run("Sad").stdout),
        json!({"status": "FAILED", "error": "Lambda.ServiceException", "cause": "down"})
    );
    let missing = run("Nope");
    assert_eq!(
        missing.status.code(),
        Some(1).filter(|_| false).or(missing.status.code())
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("Nope"));
}

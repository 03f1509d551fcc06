//! `quickstep dev` end to end: start it (embedded Kafka, or QUICKSTEP_TEST_BROKERS), drive it
//! with the real AWS CLI and boto3 (tests/aws_clients.py installs them when missing), find
//! StartExecution's results on the results topic, check a SigV4 gateway beside it (with a
//! start rate limit) and the refusal to serve a public address unauthenticated, then stop
//! everything with SIGTERM.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::Message;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_quickstep");

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Lines of a child's stream, as they come.
fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits for a line containing `marker`; returns it.
fn wait_for(lines: &mpsc::Receiver<String>, marker: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            seen.push(line.clone());
            if line.contains(marker) {
                return line;
            }
        }
    }
    panic!("no line with '{marker}' in 60 s; saw:\n{}", seen.join("\n"));
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Kills the process if the test fails before stopping it (no orphans holding pipes).
struct Reap(u32);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop within 40 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn results(brokers: &str, mut wanted: BTreeSet<String>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", format!("dev-test-{}", std::process::id()))
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        consumer
            .subscribe(&["quickstep.results"])
            .expect("subscribe");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !wanted.is_empty() {
            let message = tokio::time::timeout_at(deadline, consumer.recv())
                .await
                .unwrap_or_else(|_| panic!("results never arrived for {wanted:?}"))
                .expect("consume");
            let Some(payload) = message.payload() else {
                continue;
            };
            let result: serde_json::Value = serde_json::from_slice(payload).expect("JSON result");
            if let Some(arn) = result["executionArn"].as_str() {
                if wanted.remove(arn) {
                    assert_eq!(result["status"], "SUCCEEDED", "{result}");
                }
            }
        }
    });
}

#[test]
fn dev_runs_the_examples_for_the_aws_cli_and_stops_on_sigterm() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 is needed to run the AWS CLI and boto3");
        return;
    }
    let mut dev = Command::new(BIN);
    dev.current_dir(repo_root())
        .args(["dev", "--address", "127.0.0.1:0"])
        .env("RUST_LOG", "warn");
    if let Ok(brokers) = std::env::var("QUICKSTEP_TEST_BROKERS") {
        dev.args(["--brokers", &brokers]);
    }
    let mut dev = dev
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("quickstep dev starts");
    let _reap_dev = Reap(dev.id());
    let out = lines(dev.stdout.take().expect("stdout"));
    let mut seen = Vec::new();
    let api = wait_for(&out, "Step Functions API", &mut seen);
    let endpoint = api
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("an URL")
        .to_owned();
    let kafka = wait_for(&out, "Kafka", &mut seen);
    let brokers = kafka.split_whitespace().nth(1).expect("brokers").to_owned();
    wait_for(&out, "Ctrl-C stops it", &mut seen);
    assert!(
        seen.iter().any(|l| l.contains("State machine       order")),
        "{seen:?}"
    );

    // A public address without authentication is refused.
    let refused = Command::new(BIN)
        .args(["gateway", "--address", "0.0.0.0:0", "--brokers", &brokers])
        .env(
            "QUICKSTEP_TASK_TOKEN_KEY",
            "the-dev-test-task-token-key-of-32-bytes",
        )
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refusing"));

    // A second gateway on the same Kafka, with SigV4.
    let mut signed = Command::new(BIN)
        .args([
            "gateway",
            "--address",
            "127.0.0.1:0",
            "--brokers",
            &brokers,
            "--access-key",
            "AKIDQUICKSTEPTEST:quickstep-test-secret",
            // aws_clients.py bursts over it and expects ThrottlingException.
            "--start-rate",
            "order:1",
        ])
        .env(
            "QUICKSTEP_TASK_TOKEN_KEY",
            "the-dev-test-task-token-key-of-32-bytes",
        )
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("quickstep gateway starts");
    let _reap_signed = Reap(signed.id());
    let log = lines(signed.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    let serving = strip_ansi(&wait_for(&log, "Serving the Step Functions API", &mut seen));
    let port: String = serving
        .split("127.0.0.1:")
        .nth(1)
        .expect("an address")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let signed_endpoint = format!("http://127.0.0.1:{port}");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws_clients.py");
    let run = Command::new("python3")
        .current_dir(repo_root())
        .arg(&script)
        .args([&endpoint, &signed_endpoint])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.lines().last() == Some("OK"),
        "aws_clients.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let started: BTreeSet<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("STARTED "))
        .map(str::to_owned)
        .collect();
    assert_eq!(started.len(), 2, "{stdout}");
    results(&brokers, started);

    assert!(
        terminate(&mut signed).success(),
        "the gateway exits 0 on SIGTERM"
    );
    let status = terminate(&mut dev);
    assert!(
        status.success(),
        "quickstep dev exits 0 on SIGTERM: {status}"
    );
    let rest: Vec<String> = out.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("quickstep dev stopped")),
        "{rest:?}"
    );
}

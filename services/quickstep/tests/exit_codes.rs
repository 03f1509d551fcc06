//! The exit codes README lists: 2 for the user's mistakes (usage, an unreadable or invalid
//! definition or input, an invalid configuration), 3 for the world's (a port taken, a broker
//! unreachable), each with one clear message on stderr.

use assert_cmd::Command;
use std::net::TcpListener;

/// A deployment's task token key: `worker` and `gateway` refuse to start without one.
const TOKEN_KEY: &str = "the-exit-code-tests-task-token-key-32-bytes";

fn quickstep() -> Command {
    Command::cargo_bin("quickstep").expect("the binary is built")
}

/// Runs and returns (exit code, stderr).
fn outcome(command: &mut Command) -> (i32, String) {
    let output = command.output().expect("runs");
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn scratch(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("quickstep-exit-codes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

#[test]
fn the_user_s_mistakes_exit_2() {
    let (code, _) = outcome(quickstep().args(["run"]));
    assert_eq!(code, 2, "a usage error");
    let (code, stderr) = outcome(quickstep().args(["run", "/nonexistent/machine.asl.json"]));
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("quickstep: reading /nonexistent"),
        "{stderr}"
    );
    let invalid = scratch(
        "invalid.asl.json",
        r#"{"StartAt": "Nowhere", "States": {}}"#,
    );
    let (code, stderr) = outcome(quickstep().arg("run").arg(&invalid));
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a valid definition"), "{stderr}");
    let pass = scratch(
        "pass.asl.json",
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    );
    let (code, stderr) = outcome(quickstep().arg("run").arg(&pass).args(["--input", "{"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("the input is not JSON"), "{stderr}");
    let config = scratch("bad.toml", "[tasks.lambda]\nendpont = \"x\"\n");
    let (code, stderr) = outcome(
        quickstep()
            .arg("run")
            .arg(&pass)
            .arg("--config")
            .arg(&config),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("endpont"), "{stderr}");
    let (code, stderr) = outcome(
        quickstep()
            .args(["gateway", "--max-sync-in-flight", "0"])
            .env("RUST_LOG", "off"),
    );
    assert_eq!(code, 2, "an invalid configuration: {stderr}");
    assert!(stderr.contains("max_sync_in_flight"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
}

#[test]
fn the_world_s_failures_exit_3() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = taken.local_addr().expect("address").to_string();
    let (code, stderr) = outcome(
        quickstep()
            .args(["gateway", "--address", &address, "--brokers", "127.0.0.1:1"])
            .env("QUICKSTEP_TASK_TOKEN_KEY", TOKEN_KEY)
            .env("RUST_LOG", "off"),
    );
    assert_eq!(code, 3, "a port taken: {stderr}");
    assert!(
        stderr.contains(&format!("listening on {address}")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
    drop(taken);
    // Nothing listens on port 1: the worker cannot reach its broker (about 10 s).
    let (code, stderr) = outcome(
        quickstep()
            .args(["worker", "--brokers", "127.0.0.1:1"])
            .env("QUICKSTEP_TASK_TOKEN_KEY", TOKEN_KEY)
            .env("RUST_LOG", "off"),
    );
    assert_eq!(code, 3, "a broker unreachable: {stderr}");
    assert!(
        stderr.starts_with("quickstep: starting the worker: kafka:"),
        "{stderr}"
    );
}

#[test]
fn a_run_exits_0_when_it_succeeds_and_1_when_it_fails() {
    let pass = scratch(
        "ok.asl.json",
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
    );
    assert_eq!(outcome(quickstep().arg("run").arg(&pass)).0, 0);
    let fail = scratch(
        "fail.asl.json",
        r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope"}}}"#,
    );
    assert_eq!(outcome(quickstep().arg("run").arg(&fail)).0, 1);
}

//! `quickstep worker` and `quickstep gateway` refuse to start without the deployment's task
//! token key (exit 2, the usage code), before they connect to anything.

use assert_cmd::Command;

#[test]
fn worker_and_gateway_refuse_to_start_without_a_task_token_key() {
    for args in [
        &["worker", "--brokers", "127.0.0.1:1"][..],
        &[
            "gateway",
            "--address",
            "127.0.0.1:0",
            "--brokers",
            "127.0.0.1:1",
        ][..],
    ] {
        let output = Command::cargo_bin("quickstep")
            .unwrap()
            .args(args)
            .env_remove("QUICKSTEP_TASK_TOKEN_KEY")
            .env_remove("QUICKSTEP_TASK_TOKEN_PREVIOUS_KEY")
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("QUICKSTEP_TASK_TOKEN_KEY"),
            "{args:?}: {stderr}"
        );
        // Too short is refused the same way, and the key is never echoed.
        let output = Command::cargo_bin("quickstep")
            .unwrap()
            .args(args)
            .env("QUICKSTEP_TASK_TOKEN_KEY", "short-secret-value")
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("at least 32"), "{args:?}: {stderr}");
        assert!(!stderr.contains("short-secret-value"), "{stderr}");
    }
}

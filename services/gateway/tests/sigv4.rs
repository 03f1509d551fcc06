//! SigV4 against botocore's signer (what the AWS CLI and boto3 sign with): a served,
//! authenticating gateway, driven by tests/sigv4_botocore.py over real HTTP.

use gateway::config::GatewayConfig;
use gateway::Gateway;
use std::path::Path;
use std::process::Command;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botocore_signed_requests_verify_and_tampered_ones_do_not() {
    let config = GatewayConfig {
        access_keys: [("AKIDSIGV4TEST".to_owned(), "sigv4-secret".to_owned())].into(),
        task_token_key: Some(runtime::task_token::TaskTokenSecret::new(
            "the-sigv4-tests-task-token-key-32-bytes-long",
        )),
        ..GatewayConfig::default()
    };
    let (gateway, _) = Gateway::in_memory(config).expect("builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(gateway.serve(listener, shutdown.clone()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigv4_botocore.py");
    // botocore is a dependency of the test (./test installs it): missing, this fails.
    let run = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(endpoint)
            .output()
            .expect("python3 runs")
    })
    .await
    .expect("joins");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.trim_end().ends_with("OK"),
        "sigv4_botocore.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    shutdown.cancel();
    served
        .await
        .expect("joins")
        .expect("serves until shut down");
}

//! The worker's HTTP side: `/metrics` in the Prometheus text format, `/healthz` (the process
//! answers) and `/readyz` (it has joined the consumer group: a rebalance assigned it its
//! share, possibly none).

use crate::metrics::Metrics;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `shutdown`.
pub async fn metrics(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    ready: Arc<AtomicBool>,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        .route("/metrics", get(move || async move { metrics.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(move || readiness(ready.clone())));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(error) = served {
        tracing::error!(message = "Metrics endpoint failed.", %error);
    }
}

async fn readiness(ready: Arc<AtomicBool>) -> (StatusCode, &'static str) {
    if ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "joining the consumer group",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readyz_answers_once_the_group_is_joined() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let address = listener.local_addr().expect("has an address");
        let ready = Arc::new(AtomicBool::new(false));
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(metrics(
            listener,
            Metrics::new(),
            ready.clone(),
            shutdown.clone(),
        ));
        let status = |path: &'static str| async move {
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connects");
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.expect("writes");
            let mut response = String::new();
            stream.read_to_string(&mut response).await.expect("reads");
            response
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(status("/healthz").await, "200");
        assert_eq!(status("/readyz").await, "503");
        ready.store(true, Ordering::Relaxed);
        assert_eq!(status("/readyz").await, "200");
        assert!(status("/metrics").await == "200");
        shutdown.cancel();
        served.await.expect("stops cleanly");
    }
}

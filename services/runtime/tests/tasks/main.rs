//! The task integrations against real servers started here — an ordinary HTTP server (axum)
//! and a Lambda-Invoke-compatible one — plus callbacks, mocks, and the Kafka task on
//! librdkafka's mock cluster: one module per integration, as in `src/tasks/`. Timeouts and
//! heartbeats run on tokio's paused clock.

#[path = "../common/mod.rs"]
mod common;

mod callback;
mod http;
mod kafka;
mod lambda;
mod mock;

//! The Kafka runtime: source, admission, executor pool, idempotency stores, sinks, commit
//! tracking, task integrations.

pub mod idempotency;

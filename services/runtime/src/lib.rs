//! The execution runtime shared by everything that runs executions — the Kafka worker, the
//! gateway's StartSyncExecution and `quickstep run`: the executor, the registry of state
//! machine revisions and the reader that follows its topic, the task integrations, history
//! sinks, the real clock and randomness, start rates, Kafka client builders, and the one
//! function that turns an outcome into a result. It knows the engine only through `asl`'s
//! API and knows nothing of consumer groups or offsets (that is the worker's).

#![forbid(unsafe_code)]

pub mod clock;
pub mod execute;
pub mod follow;
pub mod kafka;
pub mod metrics;
pub mod registry;
pub mod result;
pub mod sinks;
pub mod start_rate;
pub mod task_token;
pub mod tasks;

//! The execution store: what every gateway replica knows about executions. Result records
//! (`quickstep.results`) and history records (the `kafka:TOPIC` history sink) are read from
//! Kafka by the replica's own consumer and materialised into an embedded SQLite database,
//! indexed for the read APIs (ListExecutions, DescribeExecution, GetExecutionHistory) and the
//! console, and trimmed by age and size. Kafka stays the source of truth: the database is
//! rebuilt from the topics at every start.

#![forbid(unsafe_code)]

pub mod db;
#[cfg(feature = "kafka")]
pub mod ingest;
pub mod record;

pub use db::{Cursor, Event, Execution, Filter, Page, Record, Retention, Stats, Store, StoreError};
pub use record::{DecodeError, EventRecord, ResultRecord, SourceRef, Status};

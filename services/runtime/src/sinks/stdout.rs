//! History as JSON lines on standard output, one batch under one lock so executions'
//! lines never interleave.

use super::{json_lines, HistorySink, SinkError};
use asl::history::HistoryEvent;
use futures::future::BoxFuture;
use std::io::Write;

/// Writes history to stdout.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl HistorySink for StdoutSink {
    fn write<'a>(
        &'a self,
        execution_arn: &'a str,
        events: &'a [HistoryEvent],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let lines = json_lines(execution_arn, events);
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&lines)?;
            stdout.flush()?;
            Ok(())
        })
    }
}

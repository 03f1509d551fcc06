//! History as JSON lines on standard output, one batch under one lock so executions'
//! lines never interleave.

use super::{HistoryBatch, HistorySink, SinkError};
use futures::future::BoxFuture;
use std::io::Write;

/// Writes history to stdout.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl HistorySink for StdoutSink {
    fn write<'a>(&'a self, batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let lines = batch.json_lines()?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&lines)?;
            stdout.flush()?;
            Ok(())
        })
    }
}

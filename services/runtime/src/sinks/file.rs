//! History as JSON lines appended to a file; a batch is acknowledged after it is flushed.

use super::{HistoryBatch, HistorySink, SinkError};
use futures::future::BoxFuture;
use std::path::Path;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// Appends history to one file.
pub struct FileSink {
    file: Mutex<tokio::fs::File>,
}

impl FileSink {
    /// Opens (creating) `path` for appending.
    pub async fn open(path: &Path) -> Result<FileSink, SinkError> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await?;
        Ok(FileSink {
            file: Mutex::new(file),
        })
    }
}

impl HistorySink for FileSink {
    fn write<'a>(&'a self, batch: HistoryBatch<'a>) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let lines = batch.json_lines()?;
            let mut file = self.file.lock().await;
            file.write_all(&lines).await?;
            file.flush().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asl::history::{HistoryEvent, HistoryEventType};

    #[tokio::test]
    async fn appends_lines_across_batches() {
        let path =
            std::env::temp_dir().join(format!("quickstep-history-{}.log", std::process::id()));
        std::fs::remove_file(&path).ok();
        let sink = FileSink::open(&path).await.expect("opens");
        let event = HistoryEvent {
            id: 1,
            previous_event_id: 0,
            event_timestamp_ms: 0,
            event_type: HistoryEventType::ExecutionStarted,
            details: serde_json::json!({}),
        };
        let batch = |execution_arn, attempt| HistoryBatch {
            execution_arn,
            attempt,
            events: std::slice::from_ref(&event),
        };
        sink.write(batch("arn:a", 1)).await.expect("writes");
        sink.write(batch("arn:b", 2)).await.expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(text.lines().count(), 2);
        let second: serde_json::Value =
            serde_json::from_str(text.lines().nth(1).expect("two lines")).expect("JSON");
        assert_eq!(
            (&second["execution_arn"], &second["attempt"]),
            (&serde_json::json!("arn:b"), &serde_json::json!(2))
        );
        std::fs::remove_file(&path).ok();
    }

    #[tokio::test]
    async fn an_unwritable_path_is_an_error() {
        assert!(
            FileSink::open(Path::new("/nonexistent-dir/quickstep/h.log"))
                .await
                .is_err()
        );
    }
}

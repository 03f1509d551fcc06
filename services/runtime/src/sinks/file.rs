//! History as JSON lines appended to a file; a batch is acknowledged after it is flushed.

use super::{json_lines, HistorySink, SinkError};
use asl::history::HistoryEvent;
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
    fn write<'a>(
        &'a self,
        execution_arn: &'a str,
        events: &'a [HistoryEvent],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let lines = json_lines(execution_arn, events);
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
    use asl::history::HistoryEventType;

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
        sink.write("arn:a", std::slice::from_ref(&event))
            .await
            .expect("writes");
        sink.write("arn:b", &[event]).await.expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().nth(1).expect("two lines").contains("arn:b"));
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

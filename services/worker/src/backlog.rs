//! The backlog between the source and the executions: records fetched and not yet started,
//! bounded in bytes, and the rule that pauses and resumes the partitions by it.

use crate::source::{SourceRecord, TopicNames};
use rdkafka::error::KafkaResult;
use rdkafka::message::BorrowedMessage;
use std::collections::VecDeque;

/// The most records one turn of the worker's loop takes from the consumer.
pub(crate) const RECORDS_PER_TURN: usize = 512;

/// Records fetched and not yet started, in arrival order, with their size.
#[derive(Default)]
pub(crate) struct Backlog {
    records: VecDeque<SourceRecord>,
    pub(crate) bytes: usize,
    topics: TopicNames,
}

impl Backlog {
    /// Takes what the consumer gave: a record, or an error to log (librdkafka goes on
    /// fetching).
    pub(crate) fn take(&mut self, message: KafkaResult<BorrowedMessage<'_>>) {
        match message {
            Ok(message) => {
                let record = SourceRecord::from_message(&message, &mut self.topics);
                self.push(record)
            }
            Err(error) => tracing::warn!(message = "Consumer error.", %error),
        }
    }

    fn push(&mut self, record: SourceRecord) {
        self.bytes += record.size();
        self.records.push_back(record);
    }

    pub(crate) fn pop_front(&mut self) -> Option<SourceRecord> {
        let record = self.records.pop_front()?;
        self.bytes -= record.size();
        Some(record)
    }

    pub(crate) fn retain(&mut self, keep: impl Fn(&SourceRecord) -> bool) {
        self.records.retain(keep);
        self.bytes = self.records.iter().map(SourceRecord::size).sum();
    }
}

/// Whether the assigned partitions should be paused, by the bytes buffered in the backlog.
/// A pause is costly: librdkafka drops what it prefetched for a paused partition, and after
/// the resume the first records come only after a fetch round trip — on a loaded broker,
/// hundreds of milliseconds. Pausing whenever the executions were at their bound, or when
/// a backlog of one bound's worth of records was full, left the worker starved most of the
/// time (5–6k executions/s where the same consumer without pauses ran 25k/s). So the worker
/// keeps polling into a backlog bounded in bytes (the memory librdkafka would otherwise
/// hold as prefetch), pauses only when that is full, and resumes when it has drained to
/// half: the half left keeps the executions busy while the resumed fetch comes back.
pub(crate) fn flow(paused: bool, buffered_bytes: usize, max_buffered_bytes: usize) -> bool {
    if paused {
        buffered_bytes > max_buffered_bytes / 2
    } else {
        buffered_bytes >= max_buffered_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::flow;

    #[test]
    fn pauses_when_the_backlog_is_full_and_resumes_at_half() {
        // By bytes: a full backlog pauses, half a backlog resumes.
        assert!(!flow(false, 99, 100));
        assert!(flow(false, 100, 100), "backlog full: pause");
        assert!(flow(true, 99, 100), "a few taken: stay paused");
        assert!(flow(true, 51, 100));
        assert!(!flow(true, 50, 100), "half: resume");
        assert!(flow(false, 1, 1), "a bound of one pauses with one waiting");
        assert!(!flow(true, 0, 1), "and resumes when it is taken");
    }
}

//! Per-partition watermarks of finished offsets. Executions finish out of order; a
//! partition's commit position only moves past offset o once every record below o has
//! finished (result and history acknowledged). Vector's `OrderedFinalizer`, by offset.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Topic names and partition numbers come from the worker's configuration and the group's
/// assignment, never from record contents: no producer can aim at this hasher, so a fast
/// one (foldhash) does where SipHash cost two hashes of the topic name per record.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub use crate::idempotency::RecordId;

#[derive(Debug, Default)]
struct Partition {
    /// Offsets admitted and not yet released, ascending, each with whether it has finished.
    /// A partition's records arrive in offset order, so admitting appends and finishing is a
    /// binary search; finished offsets leave from the front, once everything below them has
    /// finished too. (A `BTreeSet` did the same with a node allocation per few records.)
    in_flight: VecDeque<(i64, bool)>,
    /// One past the highest offset admitted.
    next: i64,
    /// The last commit position handed out.
    committed: Option<i64>,
    /// Whether `committed` moved since the last `take_moved`.
    moved: bool,
}

impl Partition {
    /// The position to commit: the lowest unfinished offset, or one past everything seen.
    fn watermark(&self) -> i64 {
        self.in_flight
            .front()
            .map_or(self.next, |(offset, _)| *offset)
    }

    fn admit(&mut self, offset: i64) {
        match self.in_flight.back() {
            Some((last, _)) if *last >= offset => {
                // Out of order (not seen from librdkafka, but cheap to keep right): in place.
                if let Err(at) = self.in_flight.binary_search_by_key(&offset, |(o, _)| *o) {
                    self.in_flight.insert(at, (offset, false));
                }
            }
            _ => self.in_flight.push_back((offset, false)),
        }
        self.next = self.next.max(offset + 1);
    }

    /// Marks `offset` finished; false when it was not in flight.
    fn finish(&mut self, offset: i64) -> bool {
        let Ok(at) = self.in_flight.binary_search_by_key(&offset, |(o, _)| *o) else {
            return false;
        };
        if std::mem::replace(&mut self.in_flight[at].1, true) {
            return false;
        }
        while self.in_flight.front().is_some_and(|(_, done)| *done) {
            self.in_flight.pop_front();
        }
        true
    }

    fn unfinished(&self) -> usize {
        self.in_flight.iter().filter(|(_, done)| !done).count()
    }
}

/// Tracks every assigned partition of one consumer.
#[derive(Debug, Default)]
pub struct CommitTracker {
    /// By topic, then partition: looked up with a borrowed topic on every record.
    topics: FastMap<Arc<str>, FastMap<i32, Partition>>,
}

impl CommitTracker {
    /// Starts tracking a newly assigned partition.
    pub fn assign(&mut self, topic: &str, partition: i32) {
        self.topics
            .entry(topic.into())
            .or_default()
            .entry(partition)
            .or_default();
    }

    fn partition(&mut self, topic: &str, partition: i32) -> Option<&mut Partition> {
        self.topics.get_mut(topic)?.get_mut(&partition)
    }

    /// Stops tracking a revoked partition: what finishes later is not committed by us (the
    /// new owner redelivers it and the idempotency take-over rule keeps that correct).
    pub fn revoke(&mut self, topic: &str, partition: i32) {
        if let Some(partitions) = self.topics.get_mut(topic) {
            partitions.remove(&partition);
        }
    }

    /// Whether the partition is currently ours.
    pub fn owns(&self, topic: &str, partition: i32) -> bool {
        self.topics
            .get(topic)
            .is_some_and(|partitions| partitions.contains_key(&partition))
    }

    /// A record entered the pipeline. Returns false if its partition is not assigned.
    pub fn admit(&mut self, record: &RecordId) -> bool {
        let Some(partition) = self.partition(&record.topic, record.partition) else {
            return false;
        };
        partition.admit(record.offset);
        true
    }

    /// A record finished. Returns the new commit position of its partition when it moved.
    /// A record admitted before its partition was revoked (and perhaps assigned again since)
    /// is not ours to commit: it moves nothing.
    pub fn finish(&mut self, record: &RecordId) -> Option<i64> {
        let partition = self.partition(&record.topic, record.partition)?;
        if !partition.finish(record.offset) {
            return None;
        }
        let watermark = partition.watermark();
        if partition.committed.is_some_and(|c| c >= watermark) {
            return None;
        }
        partition.committed = Some(watermark);
        partition.moved = true;
        Some(watermark)
    }

    /// The commit positions that moved since the last call, a partition once each: the
    /// worker stores a burst of finished records' offsets in one call.
    pub fn take_moved(&mut self) -> Vec<(Arc<str>, i32, i64)> {
        let mut moved = Vec::new();
        for (topic, partitions) in &mut self.topics {
            for (partition, p) in partitions.iter_mut().filter(|(_, p)| p.moved) {
                p.moved = false;
                if let Some(position) = p.committed {
                    moved.push((topic.clone(), *partition, position));
                }
            }
        }
        moved
    }

    /// Records admitted and not yet finished, over all partitions.
    pub fn in_flight(&self) -> usize {
        self.topics
            .values()
            .flat_map(HashMap::values)
            .map(Partition::unfinished)
            .sum()
    }

    /// The offsets of a partition that finished above its commit position (exactly-once
    /// writes them into the offset commit's metadata), ascending.
    pub fn finished_above(&self, topic: &str, partition: i32) -> Vec<i64> {
        self.topics
            .get(topic)
            .and_then(|partitions| partitions.get(&partition))
            .map(|p| {
                p.in_flight
                    .iter()
                    .filter(|(_, done)| *done)
                    .map(|(offset, _)| *offset)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every partition's commit position, for a final commit.
    pub fn positions(&self) -> Vec<(Arc<str>, i32, i64)> {
        self.topics
            .iter()
            .flat_map(|(topic, partitions)| {
                partitions
                    .iter()
                    .filter(|(_, p)| p.next > 0 || !p.in_flight.is_empty())
                    .map(|(partition, p)| (topic.clone(), *partition, p.watermark()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(offset: i64) -> RecordId {
        RecordId {
            topic: "t".into(),
            partition: 0,
            offset,
        }
    }

    #[test]
    fn commits_stay_in_order_when_finishing_out_of_order() {
        let mut tracker = CommitTracker::default();
        tracker.assign("t", 0);
        for offset in 10..14 {
            assert!(tracker.admit(&id(offset)));
        }
        assert_eq!(
            tracker.finish(&id(12)),
            Some(10),
            "10 still runs: the position stays at 10"
        );
        assert_eq!(tracker.finish(&id(11)), None, "unchanged");
        assert_eq!(tracker.finish(&id(10)), Some(13), "10..=12 done, 13 runs");
        assert_eq!(tracker.finish(&id(13)), Some(14));
        assert_eq!(tracker.in_flight(), 0);
    }

    #[test]
    fn out_of_order_and_repeated_records_keep_the_watermark_right() {
        let mut tracker = CommitTracker::default();
        tracker.assign("t", 0);
        for offset in [5, 3, 4, 4] {
            assert!(tracker.admit(&id(offset)));
        }
        assert_eq!(tracker.in_flight(), 3, "4 admitted twice is one record");
        assert_eq!(tracker.finish(&id(4)), Some(3), "3 still runs");
        assert_eq!(
            tracker.finish(&id(4)),
            None,
            "a second finish moves nothing"
        );
        assert_eq!(tracker.finish(&id(7)), None, "never admitted");
        assert_eq!(tracker.finish(&id(3)), Some(5));
        assert_eq!(tracker.finish(&id(5)), Some(6));
        assert_eq!(tracker.in_flight(), 0);
    }

    #[test]
    fn revoked_partitions_are_not_committed() {
        let mut tracker = CommitTracker::default();
        tracker.assign("t", 0);
        tracker.admit(&id(0));
        tracker.revoke("t", 0);
        assert_eq!(tracker.finish(&id(0)), None);
        assert!(
            !tracker.admit(&id(1)),
            "a record of an unassigned partition is refused"
        );
        assert!(!tracker.owns("t", 0));
    }

    #[test]
    fn a_record_from_before_a_revoke_does_not_move_the_reassigned_partition() {
        let mut tracker = CommitTracker::default();
        tracker.assign("t", 0);
        tracker.admit(&id(480));
        tracker.revoke("t", 0);
        // Assigned again (e.g. after a session timeout) before anything new was admitted:
        // the old execution finishing must not store offset 0 (a rewind).
        tracker.assign("t", 0);
        assert_eq!(tracker.finish(&id(480)), None);
        tracker.admit(&id(500));
        assert_eq!(tracker.finish(&id(480)), None);
        assert_eq!(tracker.finish(&id(500)), Some(501));
    }

    #[test]
    fn moved_positions_are_taken_once_each_at_their_latest() {
        let mut tracker = CommitTracker::default();
        tracker.assign("t", 0);
        tracker.assign("t", 1);
        let other = |offset| RecordId {
            partition: 1,
            ..id(offset)
        };
        for offset in 0..3 {
            tracker.admit(&id(offset));
            tracker.admit(&other(offset));
        }
        assert!(tracker.take_moved().is_empty(), "nothing finished yet");
        tracker.finish(&id(0));
        tracker.finish(&id(1));
        tracker.finish(&other(2));
        let mut moved = tracker.take_moved();
        moved.sort();
        assert_eq!(
            moved,
            [("t".into(), 0, 2), ("t".into(), 1, 0)],
            "partition 0 once, at its latest; partition 1 at the offset it still runs"
        );
        assert!(tracker.take_moved().is_empty(), "taken");
        tracker.finish(&other(0));
        tracker.admit(&id(3));
        tracker.revoke("t", 0);
        tracker.finish(&id(2));
        assert_eq!(
            tracker.take_moved(),
            vec![("t".into(), 1, 1)],
            "a revoked partition moves nothing"
        );
    }

    #[test]
    fn finished_offsets_above_the_position_are_listed() {
        let mut tracker = CommitTracker::default();
        tracker.assign("t", 0);
        for offset in 3..8 {
            tracker.admit(&id(offset));
        }
        tracker.finish(&id(3));
        tracker.finish(&id(5));
        tracker.finish(&id(7));
        assert_eq!(tracker.positions(), vec![("t".into(), 0, 4)]);
        assert_eq!(tracker.finished_above("t", 0), [5, 7]);
        assert!(tracker.finished_above("t", 1).is_empty());
    }

    #[test]
    fn positions_cover_partitions_with_progress() {
        let mut tracker = CommitTracker::default();
        tracker.assign("t", 0);
        tracker.assign("t", 1);
        tracker.admit(&id(5));
        tracker.finish(&id(5));
        assert_eq!(tracker.positions(), vec![("t".into(), 0, 6)]);
    }
}

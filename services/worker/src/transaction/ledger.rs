//! What the exactly-once loop knows of each owned partition, with no I/O: the epoch its
//! records are admitted under, the last committed position with the finished offsets
//! above it, and the offsets still ahead to skip. From these and the commit tracker it
//! computes each transaction's offsets and their metadata.

use super::metadata::{self, TooLarge};
use crate::commit::CommitTracker;
use crate::idempotency::RecordId;
use std::collections::{BTreeSet, HashMap};

/// A partition, by topic and number.
pub(crate) type Key = (String, i32);

pub(crate) fn key(record: &RecordId) -> Key {
    (record.topic.to_string(), record.partition)
}

/// What the loop does with a record read from a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// Below the partition's committed position: its outputs are committed (by us or an
    /// earlier owner), so it is dropped without being admitted, and the commit position
    /// starts at the committed one.
    Below,
    /// Read already under this epoch: the consumer went back (librdkafka resets a fetch
    /// position by itself, e.g. to `auto.offset.reset` after a broker restart) and delivers
    /// it again. The first copy runs, waits or finished in the open transaction; a second run
    /// would commit a second result beside it. Dropped without being admitted.
    Again,
    /// Finished under an earlier owner or transaction (listed above the committed
    /// position): finished without running.
    Finished,
    /// To run, admitted under this epoch (0: the partition is not ours).
    Run(u64),
}

#[derive(Debug, Default)]
struct Ledger {
    epoch: u64,
    /// The last position committed (by us or a previous owner); `None`: nothing yet.
    committed: Option<i64>,
    /// The finished offsets above `committed` that were committed with it.
    committed_finished: BTreeSet<i64>,
    /// Offsets still ahead that finished under an earlier owner or transaction: skipped.
    skip: BTreeSet<i64>,
    /// One past the highest offset read under this epoch (`None`: nothing yet). Within an
    /// epoch the consumer delivers in order, so a record below it is delivered again.
    read_to: Option<i64>,
    /// Whether a record below `committed` was delivered since the partition was assigned
    /// or rewound (logged once).
    delivered_below: bool,
    /// Whether a record was delivered again under this epoch (logged once).
    delivered_again: bool,
}

/// One partition's part of a transaction's offset commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) key: Key,
    /// The first unfinished offset (or one past the last read).
    pub(crate) offset: i64,
    /// Finished offsets above it.
    pub(crate) finished: BTreeSet<i64>,
    /// `finished`, encoded for the commit's metadata.
    pub(crate) metadata: String,
}

/// Every owned partition's ledger.
#[derive(Debug, Default)]
pub(crate) struct Ledgers {
    partitions: HashMap<Key, Ledger>,
    next_epoch: u64,
}

impl Ledgers {
    /// A partition is ours from its committed `position` (if any), whose `metadata` lists
    /// what finished above it. Returns the epoch its records are admitted under.
    pub(crate) fn assign(&mut self, key: Key, position: Option<i64>, metadata: &str) -> u64 {
        self.next_epoch += 1;
        let finished = position
            .map(|position| metadata::decode(position, metadata))
            .unwrap_or_default();
        self.partitions.insert(
            key,
            Ledger {
                epoch: self.next_epoch,
                committed: position,
                committed_finished: finished.clone(),
                skip: finished,
                read_to: None,
                delivered_below: false,
                delivered_again: false,
            },
        );
        self.next_epoch
    }

    /// The partition is no longer ours.
    pub(crate) fn revoke(&mut self, key: &Key) {
        self.partitions.remove(key);
    }

    /// The owned partitions.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Key> {
        self.partitions.keys()
    }

    /// What to do with `record`: one look-up of its partition per record read.
    ///
    /// The committed offset read for the assignment (or rewind) and what was read under the
    /// epoch are the truth; the consumer's own position only a hint, which librdkafka sets by
    /// its own read, a seek, or a reset of its own. Seen in the broker-restart test: a
    /// partition assigned with nothing committed starts at `earliest`, and seconds after the
    /// restart librdkafka went back to offset 0 while the records it had delivered were
    /// running or finished in the open transaction — each ran twice and committed twice.
    pub(crate) fn read(&mut self, record: &RecordId) -> Read {
        let Some(ledger) = self.partitions.get_mut(&key(record)) else {
            return Read::Run(0);
        };
        if ledger.committed.is_some_and(|c| record.offset < c) {
            if !std::mem::replace(&mut ledger.delivered_below, true) {
                tracing::warn!(message = "Records below the committed offset were delivered; they are committed already and skipped.", topic = %record.topic, partition = record.partition, offset = record.offset, committed = ledger.committed);
            }
            return Read::Below;
        }
        if ledger.read_to.is_some_and(|to| record.offset < to) {
            if !std::mem::replace(&mut ledger.delivered_again, true) {
                tracing::warn!(message = "Records read already were delivered again (the consumer went back); they are skipped.", topic = %record.topic, partition = record.partition, offset = record.offset, read_to = ledger.read_to);
            }
            return Read::Again;
        }
        ledger.read_to = Some(record.offset + 1);
        // Taken off the list: a record is skipped once.
        if ledger.skip.remove(&record.offset) {
            return Read::Finished;
        }
        Read::Run(ledger.epoch)
    }

    /// The offsets a transaction commits: for every owned partition with progress, the
    /// tracker's position and the finished offsets above it — those finished in this
    /// worker and those an earlier owner finished that it has not read yet.
    pub(crate) fn positions(&self, tracker: &CommitTracker) -> Result<Vec<Position>, TooLarge> {
        let mut out = Vec::new();
        for (topic, partition, offset) in tracker.positions() {
            let key = (topic.to_string(), partition);
            let Some(ledger) = self.partitions.get(&key) else {
                continue;
            };
            let mut finished: BTreeSet<i64> = tracker
                .finished_above(&topic, partition)
                .into_iter()
                .collect();
            finished.extend(ledger.skip.range(offset..));
            let metadata = metadata::encode(offset, finished.iter().copied())?;
            out.push(Position {
                key,
                offset,
                finished,
                metadata,
            });
        }
        Ok(out)
    }

    /// The positions were committed.
    pub(crate) fn committed(&mut self, positions: Vec<Position>) {
        for position in positions {
            if let Some(ledger) = self.partitions.get_mut(&position.key) {
                ledger.committed = Some(position.offset);
                ledger.skip = ledger.skip.split_off(&position.offset);
                ledger.committed_finished = position.finished;
            }
        }
    }

    /// A rewind: the partition's committed position and metadata as the broker has them
    /// now, a new epoch (records admitted before write nothing), and what to skip again.
    /// Returns the new epoch and where to read from (`None`: the beginning).
    pub(crate) fn rewind(
        &mut self,
        key: &Key,
        position: Option<i64>,
        metadata: &str,
    ) -> Option<(u64, Option<i64>)> {
        let ledger = self.partitions.get_mut(key)?;
        self.next_epoch += 1;
        ledger.epoch = self.next_epoch;
        ledger.committed = position;
        ledger.committed_finished = position
            .map(|position| metadata::decode(position, metadata))
            .unwrap_or_default();
        ledger.skip = ledger.committed_finished.clone();
        ledger.read_to = None;
        ledger.delivered_below = false;
        ledger.delivered_again = false;
        Some((ledger.epoch, position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "quickstep.start";

    fn id(offset: i64) -> RecordId {
        RecordId::new(TOPIC, 0, offset)
    }

    fn partition() -> Key {
        (TOPIC.to_owned(), 0)
    }

    /// Reads `offsets` as the loop does: records below the committed offset are dropped,
    /// finished ones finish at once, the others are admitted; returns the ones that run.
    fn run_of(ledgers: &mut Ledgers, tracker: &mut CommitTracker, offsets: &[i64]) -> Vec<i64> {
        let mut run = Vec::new();
        for &offset in offsets {
            match ledgers.read(&id(offset)) {
                Read::Below | Read::Again => {}
                Read::Finished => {
                    tracker.admit(&id(offset));
                    tracker.finish(&id(offset));
                }
                Read::Run(_) => {
                    tracker.admit(&id(offset));
                    run.push(offset);
                }
            }
        }
        run
    }

    #[test]
    fn a_new_owner_skips_what_the_metadata_lists_and_runs_the_rest() {
        let mut ledgers = Ledgers::default();
        let mut tracker = CommitTracker::default();
        ledgers.assign(partition(), Some(10), "qs1:2-3,10");
        tracker.assign(TOPIC, 0);
        let run = run_of(&mut ledgers, &mut tracker, &[10, 11, 12, 13, 14]);
        assert_eq!(
            run,
            [10, 11, 14],
            "12 and 13 finished under the previous owner"
        );
        assert_eq!(
            ledgers.read(&id(12)),
            Read::Again,
            "delivered twice, skipped once and then dropped"
        );
        // 11 finished here, 10 still runs: the position stays at 10, and the metadata
        // carries 11, the skipped 12-13 and the 20 not read yet.
        tracker.finish(&id(11));
        let positions = ledgers.positions(&tracker).expect("fits");
        assert_eq!(positions.len(), 1);
        assert_eq!(positions[0].offset, 10);
        assert_eq!(positions[0].metadata, "qs1:1-3,10");
        ledgers.committed(positions);
        // 10 and 14 finish: the position passes 14, 20 is still listed.
        tracker.finish(&id(10));
        tracker.finish(&id(14));
        let positions = ledgers.positions(&tracker).expect("fits");
        assert_eq!(positions[0].offset, 15);
        assert_eq!(positions[0].metadata, "qs1:5");
        ledgers.committed(positions);
        let run = run_of(&mut ledgers, &mut tracker, &[15, 20, 21]);
        assert_eq!(run, [15, 21], "20 finished under the previous owner");
    }

    #[test]
    fn records_below_the_committed_offset_are_dropped_not_admitted() {
        let mut ledgers = Ledgers::default();
        let mut tracker = CommitTracker::default();
        ledgers.assign(partition(), Some(10), "qs1:2");
        tracker.assign(TOPIC, 0);
        // The consumer starts at 7, below the committed 10: 7-9 are committed already.
        // The consumer starts at 7, below the committed 10: 7-9 are committed already and
        // never admitted.
        let run = run_of(&mut ledgers, &mut tracker, &[7, 8, 9, 10, 11, 12, 13]);
        assert_eq!(run, [10, 11, 13], "7-9 below, 12 as listed");
        assert_eq!(
            ledgers.read(&RecordId::new("other", 0, 1)),
            Read::Run(0),
            "not ours"
        );
        for offset in [10, 11, 13] {
            tracker.finish(&id(offset));
        }
        // The commit position starts at the committed offset, never below it.
        let positions = ledgers.positions(&tracker).expect("fits");
        assert_eq!(positions[0].offset, 14);
        ledgers.committed(positions);
        assert_eq!(
            ledgers.read(&id(13)),
            Read::Below,
            "our own commit counts too"
        );
        // Nothing committed yet: nothing is below it.
        let mut fresh = Ledgers::default();
        let epoch = fresh.assign(partition(), None, "");
        assert_eq!(fresh.read(&id(0)), Read::Run(epoch));
    }

    /// The broker-restart duplicates: nothing committed at the assignment, so the consumer
    /// starts at `earliest`; after the restart librdkafka went back to 0 while the records
    /// read were running or finished in the open transaction.
    #[test]
    fn records_delivered_again_under_the_same_epoch_are_dropped_not_run_twice() {
        let mut ledgers = Ledgers::default();
        let mut tracker = CommitTracker::default();
        let epoch = ledgers.assign(partition(), None, "");
        tracker.assign(TOPIC, 0);
        assert_eq!(
            run_of(&mut ledgers, &mut tracker, &[0, 1, 2, 3, 4, 5]).len(),
            6
        );
        // 0-1 finished and committed; 2-3 finished in the open transaction; 4-5 still run.
        for offset in 0..4 {
            tracker.finish(&id(offset));
        }
        let positions = ledgers.positions(&tracker).expect("fits");
        assert_eq!(positions[0].offset, 4);
        ledgers.committed(vec![Position {
            offset: 2,
            finished: BTreeSet::new(),
            metadata: String::new(),
            ..positions[0].clone()
        }]);
        // The consumer goes back to 0: 0-1 are below the committed 2, 2-5 read already.
        let again: Vec<Read> = (0..6).map(|o| ledgers.read(&id(o))).collect();
        assert_eq!(
            again,
            [
                Read::Below,
                Read::Below,
                Read::Again,
                Read::Again,
                Read::Again,
                Read::Again
            ]
        );
        assert_eq!(ledgers.read(&id(6)), Read::Run(epoch), "new records run");
        // A rewind (a new epoch) reads from the committed position again, as it must.
        let (rewound, _) = ledgers.rewind(&partition(), Some(2), "").expect("owned");
        assert_eq!(ledgers.read(&id(2)), Read::Run(rewound));
    }

    #[test]
    fn a_partition_without_a_committed_offset_skips_nothing() {
        let mut ledgers = Ledgers::default();
        let mut tracker = CommitTracker::default();
        ledgers.assign(partition(), None, "qs1:1-5");
        tracker.assign(TOPIC, 0);
        assert_eq!(run_of(&mut ledgers, &mut tracker, &[0, 1, 2]), [0, 1, 2]);
        assert!(
            ledgers
                .positions(&CommitTracker::default())
                .unwrap()
                .is_empty(),
            "no progress, nothing to commit"
        );
    }

    #[test]
    fn a_rewind_bumps_the_epoch_and_skips_only_what_was_committed() {
        let mut ledgers = Ledgers::default();
        let mut tracker = CommitTracker::default();
        let first = ledgers.assign(partition(), Some(0), "");
        tracker.assign(TOPIC, 0);
        assert_eq!(run_of(&mut ledgers, &mut tracker, &[0, 1, 2]), [0, 1, 2]);
        assert_eq!(ledgers.read(&id(3)), Read::Run(first));
        tracker.admit(&id(3));
        tracker.finish(&id(1));
        tracker.finish(&id(3));
        // Committed: position 0, 1 and 3 finished above it.
        let positions = ledgers.positions(&tracker).unwrap();
        assert_eq!(positions[0].metadata, "qs1:1,3");
        ledgers.committed(positions);
        // Then 2 finished in a transaction that aborted: the rewind reads the broker's
        // committed offset back and runs 0 and 2 again, skipping 1 and 3.
        let (epoch, from) = ledgers
            .rewind(&partition(), Some(0), "qs1:1,3")
            .expect("owned");
        assert!(epoch > first, "records admitted before write nothing");
        assert_eq!(from, Some(0));
        let mut tracker = CommitTracker::default();
        tracker.assign(TOPIC, 0);
        assert_eq!(ledgers.read(&id(0)), Read::Run(epoch));
        tracker.admit(&id(0));
        assert_eq!(run_of(&mut ledgers, &mut tracker, &[1, 2, 3]), [2]);
        assert!(ledgers.rewind(&("other".into(), 0), None, "").is_none());
    }

    #[test]
    fn revoked_partitions_are_neither_skipped_nor_committed() {
        let mut ledgers = Ledgers::default();
        let mut tracker = CommitTracker::default();
        ledgers.assign(partition(), Some(5), "qs1:1");
        tracker.assign(TOPIC, 0);
        run_of(&mut ledgers, &mut tracker, &[5]);
        tracker.finish(&id(5));
        ledgers.revoke(&partition());
        assert_eq!(ledgers.read(&id(6)), Read::Run(0));
        assert!(ledgers.positions(&tracker).unwrap().is_empty());
    }

    #[test]
    fn metadata_too_large_is_an_error_not_a_silent_cut() {
        let mut ledgers = Ledgers::default();
        let mut tracker = CommitTracker::default();
        ledgers.assign(partition(), Some(0), "");
        tracker.assign(TOPIC, 0);
        let offsets: Vec<i64> = (0..10_000).collect();
        run_of(&mut ledgers, &mut tracker, &offsets);
        // Every other record finished, the first still runs: 4,999 separate ranges.
        for offset in (1..10_000).step_by(2) {
            tracker.finish(&id(offset));
        }
        assert!(ledgers.positions(&tracker).is_err());
    }
}

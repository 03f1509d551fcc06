//! The offset commit's metadata in exactly-once mode: which records above the committed
//! position already finished (their outputs committed in the same transaction), so the next
//! owner of the partition skips them instead of running them twice. Offsets are written as
//! ranges of distances from the position (`qs1:1-4,7,9-12`), so a long execution holding
//! the position back behind thousands of finished records still costs a few bytes.

use std::collections::BTreeSet;

/// Marks metadata this module wrote; anything else (an at-least-once worker's empty
/// metadata, another tool's text) means "nothing finished above the position".
const PREFIX: &str = "qs1:";

/// The broker refuses an offset commit whose metadata is longer than its
/// `offset.metadata.max.bytes` (4,096 by default); a little under it.
pub const MAX_BYTES: usize = 4000;

/// The finished offsets above `position` did not fit in [`MAX_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ranges} ranges of finished offsets above {position} do not fit in the offset metadata ({bytes} bytes, at most {MAX_BYTES})")]
pub struct TooLarge {
    /// The committed position.
    pub position: i64,
    /// Ranges that were to be written.
    pub ranges: usize,
    /// Bytes they took.
    pub bytes: usize,
}

/// Writes the offsets above `position` among `finished` (ascending; others are ignored).
pub fn encode(position: i64, finished: impl IntoIterator<Item = i64>) -> Result<String, TooLarge> {
    let mut out = String::from(PREFIX);
    let mut ranges = 0;
    let mut open: Option<(i64, i64)> = None;
    let close = |out: &mut String, (first, last): (i64, i64)| {
        use std::fmt::Write as _;
        if out.len() > PREFIX.len() {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = if first == last {
            write!(out, "{}", first - position)
        } else {
            write!(out, "{}-{}", first - position, last - position)
        };
    };
    for offset in finished.into_iter().filter(|o| *o > position) {
        open = match open {
            Some((first, last)) if offset == last + 1 => Some((first, offset)),
            Some((_, last)) if offset <= last => open,
            Some(range) => {
                close(&mut out, range);
                ranges += 1;
                Some((offset, offset))
            }
            None => Some((offset, offset)),
        };
    }
    if let Some(range) = open {
        close(&mut out, range);
        ranges += 1;
    }
    if ranges == 0 {
        return Ok(String::new());
    }
    if out.len() > MAX_BYTES {
        return Err(TooLarge {
            position,
            ranges,
            bytes: out.len(),
        });
    }
    Ok(out)
}

/// Reads what [`encode`] wrote for `position`; anything it did not write is no offsets.
/// A malformed range is skipped rather than trusted: skipping a record that did not finish
/// would lose it, while running one twice only repeats it.
pub fn decode(position: i64, metadata: &str) -> BTreeSet<i64> {
    let mut finished = BTreeSet::new();
    let Some(ranges) = metadata.strip_prefix(PREFIX) else {
        return finished;
    };
    for range in ranges.split(',') {
        let (first, last) = match range.split_once('-') {
            Some((first, last)) => (first.parse::<i64>(), last.parse::<i64>()),
            None => (range.parse::<i64>(), range.parse::<i64>()),
        };
        let (Ok(first), Ok(last)) = (first, last) else {
            continue;
        };
        // Distances are positive and ranges short enough to hold: at most what the
        // metadata's bound lets a writer put there, never a billion-offset range.
        if first < 1 || last < first || last - first > 1_000_000 {
            continue;
        }
        finished.extend((first..=last).map(|d| position + d));
    }
    finished
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_offsets_round_trip_as_ranges() {
        let finished = [11, 12, 13, 15, 20, 21];
        let text = encode(10, finished).expect("fits");
        assert_eq!(text, "qs1:1-3,5,10-11");
        assert_eq!(decode(10, &text), finished.into_iter().collect());
    }

    #[test]
    fn nothing_above_the_position_is_empty_metadata() {
        assert_eq!(encode(10, []).unwrap(), "");
        assert_eq!(
            encode(10, [3, 9, 10]).unwrap(),
            "",
            "at or below the position"
        );
        assert!(decode(10, "").is_empty());
    }

    #[test]
    fn repeated_offsets_are_written_once() {
        assert_eq!(encode(0, [1, 1, 2, 2, 4]).unwrap(), "qs1:1-2,4");
    }

    #[test]
    fn a_long_run_behind_one_slow_record_stays_small() {
        let text = encode(100, 101..100_101).expect("one range");
        assert_eq!(text, "qs1:1-100000");
        assert_eq!(decode(100, &text).len(), 100_000);
    }

    #[test]
    fn too_many_scattered_ranges_are_refused() {
        let error = encode(0, (1..4000).map(|n| n * 2)).unwrap_err();
        assert_eq!(error.ranges, 3999);
        assert!(error.bytes > MAX_BYTES);
    }

    #[test]
    fn foreign_or_malformed_metadata_skips_nothing_it_cannot_read() {
        assert!(decode(5, "hello").is_empty(), "not ours");
        assert!(decode(5, "qs1:x,-3,4-2,0").is_empty(), "malformed ranges");
        assert_eq!(
            decode(5, "qs1:1,garbage,3-4"),
            [6, 8, 9].into_iter().collect(),
            "the readable ranges count"
        );
        assert!(decode(5, "qs1:1-999999999999").is_empty(), "absurd range");
    }
}

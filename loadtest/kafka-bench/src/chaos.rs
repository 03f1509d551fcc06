//! The chaos check of a `load` run: from what was sent (each execution's first send time)
//! and the results read back, keys lost (no result), keys split (answered by two different
//! executions: two execution ARNs for one idempotency key), repeats of one execution (its
//! ARN again: a redelivered record), results that are not SUCCEEDED, and for each fault the
//! time until the run was back to normal. Pure: no Kafka, no clock.
//!
//! "Normal" at time t: every execution sent before t − threshold has its first result by
//! t, where the threshold is twice the p99 latency of the executions sent and answered in
//! the later half of the time before the first fault (at least that p99 + 1 s). A fault has recovered at the moment after its end from
//! which the run stays normal until the next fault begins (checked every 100 ms); its time
//! to recover is that moment − its start. A backlog that lasts into the next fault counts
//! until it clears (marked +). A lost execution never lets a later moment be normal.

use crate::report::{percentile, Seen};
use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// One fault the schedule injected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    pub start_ms: i64,
    pub end_ms: i64,
    pub name: String,
}

/// Parses the faults file: `START_MS END_MS NAME…` a line; `#` comments and blank lines skipped.
pub(crate) fn parse_faults(text: &str) -> Result<Vec<Fault>> {
    let mut faults = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let mut ms = |what: &str| -> Result<i64> {
            parts
                .next()
                .and_then(|p| p.parse().ok())
                .with_context(|| format!("faults line {}: no {what} (epoch ms)", number + 1))
        };
        let (start_ms, end_ms) = (ms("start")?, ms("end")?);
        if end_ms < start_ms {
            bail!("faults line {}: ends before it starts", number + 1);
        }
        let name = parts.next().unwrap_or("").trim().to_owned();
        faults.push(Fault {
            start_ms,
            end_ms,
            name,
        });
    }
    faults.sort_by_key(|f| f.start_ms);
    Ok(faults)
}

/// How one fault went.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recovery {
    pub fault: Fault,
    /// From the fault's start to back to normal; None: never.
    pub recovered_ms: Option<i64>,
    /// Whether that was only after the next fault began (the two overlap).
    pub after_next: bool,
    /// The highest latency of an execution in flight during the fault.
    pub worst_latency_ms: i64,
}

/// The check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    pub executions: u64,
    pub results: u64,
    pub lost: u64,
    pub lost_examples: Vec<u64>,
    pub split: u64,
    pub split_examples: Vec<u64>,
    pub repeats: u64,
    /// Whether a repeat fails the check: under exactly-once delivery a read_committed reader
    /// sees each execution's result once, so a repeat is a broken guarantee, not a redelivery.
    pub repeats_fail: bool,
    pub not_succeeded: BTreeMap<String, u64>,
    pub baseline_p99_ms: Option<i64>,
    pub threshold_ms: i64,
    pub recoveries: Vec<Recovery>,
    /// Per 10 s of send time from the first send: (executions, p50, p99, max latency ms;
    /// None when none of them has a result).
    pub timeline: Vec<Bucket>,
}

/// Executions sent in 10 s, and their p50, p99 and max latency (ms) if any has a result.
pub(crate) type Bucket = (u64, Option<(i64, i64, i64)>);

impl Check {
    pub(crate) fn new(sent_ms: &HashMap<u64, i64>, seen: &[Seen], faults: &[Fault]) -> Check {
        // Per execution: first result, and its distinct ARNs with a count each.
        let mut first: HashMap<u64, i64> = HashMap::new();
        let mut arns: HashMap<u64, Vec<(Option<&str>, u64)>> = HashMap::new();
        let mut not_succeeded = BTreeMap::new();
        let mut results = 0;
        for result in seen {
            if !sent_ms.contains_key(&result.execution) {
                continue;
            }
            results += 1;
            let at = first.entry(result.execution).or_insert(result.timestamp_ms);
            *at = (*at).min(result.timestamp_ms);
            let list = arns.entry(result.execution).or_default();
            match list
                .iter_mut()
                .find(|(arn, _)| *arn == result.arn.as_deref())
            {
                Some((_, count)) => *count += 1,
                None => list.push((result.arn.as_deref(), 1)),
            }
            if result.status != "SUCCEEDED" {
                let name = result
                    .error
                    .clone()
                    .unwrap_or_else(|| result.status.clone());
                *not_succeeded.entry(name).or_insert(0) += 1;
            }
        }
        let mut lost_examples: Vec<u64> = sent_ms
            .keys()
            .filter(|e| !first.contains_key(e))
            .copied()
            .collect();
        lost_examples.sort_unstable();
        let lost = lost_examples.len() as u64;
        lost_examples.truncate(10);
        let mut split_examples: Vec<u64> = arns
            .iter()
            .filter(|(_, list)| list.len() > 1)
            .map(|(e, _)| *e)
            .collect();
        split_examples.sort_unstable();
        let split = split_examples.len() as u64;
        split_examples.truncate(10);
        let repeats = arns
            .values()
            .flat_map(|list| list.iter().map(|(_, count)| count - 1))
            .sum();

        // Executions by send time, with the running maximum of their first results
        // (i64::MAX for a lost one).
        let mut by_sent: Vec<(i64, i64)> = sent_ms
            .iter()
            .map(|(e, sent)| (*sent, first.get(e).copied().unwrap_or(i64::MAX)))
            .collect();
        by_sent.sort_unstable();
        let mut answered_by = Vec::with_capacity(by_sent.len());
        let mut running = i64::MIN;
        for (_, answer) in &by_sent {
            running = running.max(*answer);
            answered_by.push(running);
        }
        // The baseline: executions sent and answered in the later half of the time before
        // the first fault (the first half has the workers' start-up in it; one answered
        // after it began was slowed by it), or the whole run without faults.
        let first_sent = by_sent.first().map_or(0, |(sent, _)| *sent);
        let (from, until) = match faults.first() {
            Some(f) => (first_sent + (f.start_ms - first_sent) / 2, f.start_ms),
            None => (i64::MIN, i64::MAX),
        };
        let mut baseline: Vec<i64> = by_sent
            .iter()
            .filter(|(sent, answer)| (from..until).contains(sent) && *answer < until)
            .map(|(sent, answer)| answer - sent)
            .collect();
        baseline.sort_unstable();
        let baseline_p99_ms = percentile(&baseline, 0.99);
        let threshold_ms = baseline_p99_ms.map_or(5000, |p| (2 * p).max(p + 1000));
        let last_result = first.values().copied().max().unwrap_or(0);
        // Normal at t: everything sent before t − threshold was answered by t.
        let normal = |t: i64| {
            let before = by_sent.partition_point(|(sent, _)| *sent < t - threshold_ms);
            before == 0 || answered_by[before - 1] <= t
        };
        let recoveries = faults
            .iter()
            .enumerate()
            .map(|(i, fault)| {
                // The last abnormal moment between the fault's end and the next fault's
                // start; if it lasts into the next fault, the first normal one after that.
                let next = faults.get(i + 1).map(|n| n.start_ms);
                let horizon = next.unwrap_or(last_result + threshold_ms);
                let mut last_abnormal = None;
                let mut t = fault.end_ms;
                while t < horizon {
                    if !normal(t) {
                        last_abnormal = Some(t);
                    }
                    t += 100;
                }
                let (recovered, after_next) = match last_abnormal {
                    None => (Some(fault.end_ms), false),
                    Some(l) if l + 100 < horizon => (Some(l + 100), false),
                    Some(_) => {
                        let mut t = horizon;
                        loop {
                            if t > last_result + threshold_ms {
                                break (None, false);
                            }
                            if normal(t) {
                                break (Some(t), next.is_some());
                            }
                            t += 100;
                        }
                    }
                };
                let worst_latency_ms = by_sent
                    .iter()
                    .filter(|(sent, answer)| *sent <= fault.end_ms && *answer >= fault.start_ms)
                    .map(|(sent, answer)| answer.saturating_sub(*sent))
                    .max()
                    .unwrap_or(0);
                Recovery {
                    recovered_ms: recovered.map(|t| t - fault.start_ms),
                    after_next,
                    worst_latency_ms,
                    fault: fault.clone(),
                }
            })
            .collect();
        let mut buckets: Vec<Vec<i64>> = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        for (sent, answer) in &by_sent {
            let bucket = ((sent - first_sent) / 10_000) as usize;
            if buckets.len() <= bucket {
                buckets.resize(bucket + 1, Vec::new());
                counts.resize(bucket + 1, 0);
            }
            counts[bucket] += 1;
            if *answer != i64::MAX {
                buckets[bucket].push(answer - sent);
            }
        }
        let timeline = buckets
            .iter_mut()
            .zip(counts)
            .map(|(latencies, count)| {
                latencies.sort_unstable();
                let p = |q| percentile(latencies, q);
                (
                    count,
                    p(0.5).zip(p(0.99)).zip(p(1.0)).map(|((a, b), c)| (a, b, c)),
                )
            })
            .collect();
        Check {
            timeline,
            executions: sent_ms.len() as u64,
            results,
            lost,
            lost_examples,
            split,
            split_examples,
            repeats,
            repeats_fail: false,
            not_succeeded,
            baseline_p99_ms,
            threshold_ms,
            recoveries,
        }
    }

    /// No key lost, none split.
    pub(crate) fn passed(&self) -> bool {
        self.lost == 0 && self.split == 0 && !(self.repeats_fail && self.repeats > 0)
    }

    pub(crate) fn lines(&self, run_start_ms: i64) -> Vec<String> {
        let mut lines = vec!["latency by send time (s: executions p50/p99/max ms)".to_owned()];
        for row in self.timeline.chunks(3).enumerate().map(|(i, chunk)| {
            chunk
                .iter()
                .enumerate()
                .map(|(j, (count, latency))| {
                    let at = (i * 3 + j) * 10;
                    match latency {
                        Some((p50, p99, max)) => format!("{at:>4}: {count:>6} {p50}/{p99}/{max}"),
                        None => format!("{at:>4}: {count:>6} -"),
                    }
                })
                .map(|cell| format!("{cell:<36}"))
                .collect::<String>()
        }) {
            lines.push(format!("  {}", row.trim_end()));
        }
        if !self.recoveries.is_empty() {
            lines.push(format!(
                "normal        every execution answered within {} ms (2 × p99 {} ms of the executions sent and answered in the later half of the time before the first fault)",
                self.threshold_ms,
                self.baseline_p99_ms.map_or("-".into(), |p| p.to_string())
            ));
            lines.push(format!(
                "{:<52} {:>7} {:>7} {:>12} {:>13}",
                "fault", "at (s)", "for (s)", "recovered in", "worst latency"
            ));
            for r in &self.recoveries {
                lines.push(format!(
                    "{:<52} {:>7.1} {:>7.1} {:>12} {:>10} ms",
                    r.fault.name,
                    (r.fault.start_ms - run_start_ms) as f64 / 1000.0,
                    (r.fault.end_ms - r.fault.start_ms) as f64 / 1000.0,
                    match r.recovered_ms {
                        Some(ms) => format!(
                            "{:.1} s{}",
                            ms as f64 / 1000.0,
                            if r.after_next { "+" } else { "" }
                        ),
                        None => "never".into(),
                    },
                    r.worst_latency_ms
                ));
            }
            if self.recoveries.iter().any(|r| r.after_next) {
                lines.push(
                    "              (+: back to normal only after the next fault began)".into(),
                );
            }
        }
        let examples = |list: &[u64]| {
            if list.is_empty() {
                String::new()
            } else {
                format!(" (executions {list:?}…)")
            }
        };
        lines.push(format!(
            "lost keys     {}{}",
            self.lost,
            examples(&self.lost_examples)
        ));
        lines.push(format!(
            "split keys    {} answered by two different executions{}",
            self.split,
            examples(&self.split_examples)
        ));
        lines.push(format!(
            "repeats       {} results repeating one execution (same ARN: a redelivered record)",
            self.repeats
        ));
        lines.push(if self.not_succeeded.is_empty() {
            "not SUCCEEDED none".to_owned()
        } else {
            let list: Vec<String> = self
                .not_succeeded
                .iter()
                .map(|(n, c)| format!("{n} {c}"))
                .collect();
            format!("not SUCCEEDED {}", list.join(", "))
        });
        lines.push(format!(
            "verdict       {}",
            if self.passed() {
                if self.repeats_fail {
                    "PASS: no key lost or split, no result repeated (exactly-once)"
                } else {
                    "PASS: no key lost or split"
                }
            } else if self.repeats_fail && self.repeats > 0 {
                "FAIL: keys lost or split, or results repeated under exactly-once"
            } else {
                "FAIL: keys lost or split"
            }
        ));
        lines
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "executions": self.executions,
            "results": self.results,
            "lost": self.lost,
            "lost_examples": self.lost_examples,
            "split": self.split,
            "split_examples": self.split_examples,
            "repeats": self.repeats,
            "not_succeeded": self.not_succeeded,
            "baseline_p99_ms": self.baseline_p99_ms,
            "threshold_ms": self.threshold_ms,
            "timeline": self.timeline.iter().map(|(count, l)| json!({
                "executions": count,
                "p50": l.map(|l| l.0), "p99": l.map(|l| l.1), "max": l.map(|l| l.2),
            })).collect::<Vec<_>>(),
            "faults": self.recoveries.iter().map(|r| json!({
                "name": r.fault.name,
                "start_ms": r.fault.start_ms,
                "lasted_ms": r.fault.end_ms - r.fault.start_ms,
                "recovered_ms": r.recovered_ms,
                "recovered_after_next_fault_began": r.after_next,
                "worst_latency_ms": r.worst_latency_ms,
            })).collect::<Vec<_>>(),
            "passed": self.passed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(execution: u64, timestamp_ms: i64, arn: &str) -> Seen {
        Seen {
            execution,
            timestamp_ms,
            status: "SUCCEEDED".into(),
            error: None,
            partition: Some(0),
            arn: Some(arn.into()),
        }
    }

    /// 100 executions sent 100 ms apart from t = 0, each answered 500 ms later.
    fn clean() -> (HashMap<u64, i64>, Vec<Seen>) {
        let sent = (0..100).map(|e| (e, e as i64 * 100)).collect();
        let seen = (0..100)
            .map(|e| seen(e, e as i64 * 100 + 500, &format!("arn-{e}")))
            .collect();
        (sent, seen)
    }

    #[test]
    fn faults_parse_sorted_and_bad_lines_are_refused() {
        let faults =
            parse_faults("# at end name\n20 30 cut redis 10 s\n\n5 6 kill -9 worker-0\n").unwrap();
        assert_eq!(faults.len(), 2);
        assert_eq!(faults[0].name, "kill -9 worker-0");
        assert_eq!((faults[1].start_ms, faults[1].end_ms), (20, 30));
        assert_eq!(faults[1].name, "cut redis 10 s");
        assert!(parse_faults("x 1 name").is_err());
        assert!(parse_faults("5").is_err());
        assert!(parse_faults("9 5 backwards").is_err());
    }

    #[test]
    fn a_clean_run_passes_and_counts_nothing() {
        let (sent, seen) = clean();
        let check = Check::new(&sent, &seen, &[]);
        assert!(check.passed());
        assert_eq!((check.lost, check.split, check.repeats), (0, 0, 0));
        assert_eq!(check.results, 100);
        assert_eq!(check.baseline_p99_ms, Some(500));
        assert_eq!(check.threshold_ms, 1500);
        assert!(check.lines(0).iter().any(|l| l.contains("PASS")));
        // Sent over 9.9 s: one 10-second bucket.
        assert_eq!(check.timeline, vec![(100, Some((500, 500, 500)))]);
    }

    #[test]
    fn a_repeat_fails_only_under_exactly_once() {
        let (sent, mut seen) = clean();
        seen.push(seen_again(3, "arn-3"));
        let mut check = Check::new(&sent, &seen, &[]);
        assert_eq!(check.repeats, 1);
        assert!(check.passed(), "at-least-once allows a redelivery");
        check.repeats_fail = true;
        assert!(!check.passed());
        let text = check.lines(0).join("\n");
        assert!(
            text.contains("results repeated under exactly-once"),
            "{text}"
        );
        let (sent, seen) = clean();
        let mut check = Check::new(&sent, &seen, &[]);
        check.repeats_fail = true;
        assert!(check.passed());
        assert!(check.lines(0).join("\n").contains("no result repeated"));
    }

    #[test]
    fn lost_split_and_repeated_keys_are_told_apart() {
        let (sent, mut seen) = clean();
        seen.retain(|s| s.execution != 7); // lost
        seen.push(seen_again(3, "arn-3")); // the same execution again: a repeat
        seen.push(seen_again(4, "arn-4-other")); // another execution for key 4: split
        let mut failed = seen_again(5, "arn-5");
        failed.status = "FAILED".into();
        failed.error = Some("States.Runtime".into());
        seen.push(failed);
        let check = Check::new(&sent, &seen, &[]);
        assert_eq!(check.lost, 1);
        assert_eq!(check.lost_examples, vec![7]);
        assert_eq!(check.split, 1);
        assert_eq!(check.split_examples, vec![4]);
        assert_eq!(check.repeats, 2, "3 and 5 again");
        assert_eq!(
            check.not_succeeded,
            BTreeMap::from([("States.Runtime".into(), 1)])
        );
        assert!(!check.passed());
        let text = check.lines(0).join("\n");
        assert!(text.contains("lost keys     1 (executions [7]…)"), "{text}");
        assert!(text.contains("FAIL"), "{text}");
        assert_eq!(check.json()["split"], 1);
    }

    fn seen_again(execution: u64, arn: &str) -> Seen {
        seen(execution, 20_000, arn)
    }

    #[test]
    fn recovery_is_when_everything_older_than_normal_is_answered() {
        let (sent, mut seen) = clean();
        // A fault from 5,000 to 5,200 ms: executions sent 4,000–5,900 ms are answered only
        // at 7,000 ms (the backlog), later ones as usual.
        for s in seen.iter_mut() {
            let sent_at = s.execution as i64 * 100;
            if (4000..6000).contains(&sent_at) {
                s.timestamp_ms = 7000;
            }
        }
        let fault = Fault {
            start_ms: 5000,
            end_ms: 5200,
            name: "stop".into(),
        };
        let check = Check::new(&sent, &seen, std::slice::from_ref(&fault));
        // Baseline: sent 2,500–4,900 and answered before the fault: the slow 4,000–4,900
        // (answered at 7,000) are not in it; p99 500 → threshold 1,500.
        assert_eq!(check.baseline_p99_ms, Some(500));
        assert_eq!(check.threshold_ms, 1500);
        let r = &check.recoveries[0];
        // The 4,000 ms record is 1.5 s old at 5,500 and answered at 7,000: abnormal until
        // then, so recovered 2 s after the fault began.
        assert_eq!(r.recovered_ms, Some(2000));
        assert_eq!(r.worst_latency_ms, 3000);

        // With a tight baseline (the fault later), the backlog shows.
        let late = Fault {
            start_ms: 4000,
            end_ms: 4100,
            name: "cut".into(),
        };
        let mut seen2 = clean().1;
        for s in seen2.iter_mut() {
            let sent_at = s.execution as i64 * 100;
            if (4000..6000).contains(&sent_at) {
                s.timestamp_ms = 9000;
            }
        }
        let check = Check::new(&sent, &seen2, std::slice::from_ref(&late));
        assert_eq!(check.threshold_ms, 1500);
        // Normal needs everything sent before t − 1,500 answered by t: the 4,000 ms record
        // is answered at 9,000, so t ≥ 9,000 (and 5,900 + 1,500 < 9,000).
        assert_eq!(check.recoveries[0].recovered_ms, Some(5000));
        assert_eq!(check.recoveries[0].worst_latency_ms, 5000);

        // A lost execution: never normal again.
        seen2.retain(|s| s.execution != 50);
        let check = Check::new(&sent, &seen2, &[late]);
        assert_eq!(check.recoveries[0].recovered_ms, None);
        assert!(check.lines(0).join("\n").contains("never"));
    }

    #[test]
    fn overlapping_faults_are_marked() {
        let (sent, mut seen) = clean();
        for s in seen.iter_mut() {
            if s.execution >= 40 && s.execution < 60 {
                s.timestamp_ms = 8000;
            }
        }
        let faults = parse_faults("3900 4000 first\n6000 6100 second\n").unwrap();
        let check = Check::new(&sent, &seen, &faults);
        assert_eq!(check.threshold_ms, 1500);
        // Abnormal from 5,500 (the 4,000 ms record is 1.5 s old) to 8,000: into the second.
        assert!(check.recoveries[0].after_next);
        assert_eq!(check.recoveries[0].recovered_ms, Some(4100));
        assert_eq!(check.recoveries[1].recovered_ms, Some(2000));
        assert!(!check.recoveries[1].after_next);
        assert!(check.lines(0).join("\n").contains("s+"));
    }
}

//! What a `load` run saw, as numbers: from the records produced and the results read back,
//! executions/s, end-to-end latency percentiles, duplicates suppressed and got through,
//! executions without a result, and errors by name. Pure: no Kafka, no clock.

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The start records a run produced.
#[derive(Debug, Default)]
pub(crate) struct Produced {
    /// Records sent, duplicates included.
    pub records: u64,
    /// Of which repeats of an earlier record's idempotency key.
    pub duplicates: u64,
    /// Each execution's (original record's) timestamp, epoch ms, by execution number.
    pub sent_ms: HashMap<u64, i64>,
    /// From the first send to the last, seconds: the offered rate's denominator.
    pub send_seconds: f64,
    /// From the first send to the last acknowledgement, seconds.
    pub seconds: f64,
}

/// One result record, as read from the results topic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    /// The execution number (from the idempotency key).
    pub execution: u64,
    /// The result record's timestamp, epoch ms.
    pub timestamp_ms: i64,
    /// SUCCEEDED, FAILED or TIMED_OUT.
    pub status: String,
    /// The error name of a failed execution.
    pub error: Option<String>,
    /// The start record's partition.
    pub partition: Option<i64>,
    /// The execution's ARN: one per start record (a redelivered record keeps it), so two
    /// ARNs for one idempotency key are two executions.
    pub arn: Option<String>,
}

/// Latency percentiles, ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Latency {
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
    pub max: i64,
}

/// The report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    pub records: u64,
    /// Records handed to the producer per second.
    pub produce_rate: f64,
    /// Seconds until the last record was acknowledged.
    pub acknowledged_seconds: f64,
    pub executions: u64,
    pub duplicates_produced: u64,
    pub results: u64,
    pub executions_with_result: u64,
    pub executions_per_second: f64,
    pub latency_ms: Option<Latency>,
    /// Duplicates that produced no result: the worker's idempotency suppressed them.
    pub duplicates_suppressed: u64,
    /// Results beyond the first for one idempotency key: duplicates that ran again.
    pub duplicates_through: u64,
    /// Up to ten execution numbers that ran more than once.
    pub through_examples: Vec<u64>,
    /// Executions produced whose result never came.
    pub missing: u64,
    /// Results that are not SUCCEEDED, by error name (the status when there is none).
    pub errors: BTreeMap<String, u64>,
    /// Results by the start record's partition (the key distribution's effect).
    pub per_partition: BTreeMap<i64, u64>,
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `q` of
/// all values at or below it. None when there are none.
pub(crate) fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

impl Report {
    /// Puts `produced` and `seen` together. A result for an execution that was not produced
    /// (another run's, on a shared topic) is ignored.
    pub(crate) fn new(produced: &Produced, seen: &[Seen]) -> Report {
        let mut per_execution: HashMap<u64, (u64, i64)> = HashMap::new();
        let mut errors = BTreeMap::new();
        let mut per_partition = BTreeMap::new();
        let mut results = 0;
        for result in seen {
            if !produced.sent_ms.contains_key(&result.execution) {
                continue;
            }
            results += 1;
            let entry = per_execution
                .entry(result.execution)
                .or_insert((0, result.timestamp_ms));
            entry.0 += 1;
            entry.1 = entry.1.min(result.timestamp_ms);
            if result.status != "SUCCEEDED" {
                let name = result
                    .error
                    .clone()
                    .unwrap_or_else(|| result.status.clone());
                *errors.entry(name).or_insert(0) += 1;
            }
            if let Some(partition) = result.partition {
                *per_partition.entry(partition).or_insert(0) += 1;
            }
        }
        // Latency of an execution: its first result against its original start record.
        let mut latencies: Vec<i64> = per_execution
            .iter()
            .map(|(execution, (_, first))| first - produced.sent_ms[execution])
            .collect();
        latencies.sort_unstable();
        let latency_ms = percentile(&latencies, 0.50).map(|p50| Latency {
            p50,
            p90: percentile(&latencies, 0.90).unwrap_or(p50),
            p99: percentile(&latencies, 0.99).unwrap_or(p50),
            max: *latencies.last().unwrap_or(&p50),
        });
        let mut through_examples: Vec<u64> = per_execution
            .iter()
            .filter(|(_, (count, _))| *count > 1)
            .map(|(execution, _)| *execution)
            .collect();
        through_examples.sort_unstable();
        through_examples.truncate(10);
        let duplicates_through: u64 = per_execution.values().map(|(count, _)| count - 1).sum();
        let first_sent = produced.sent_ms.values().min().copied();
        let last_result = per_execution.values().map(|(_, first)| *first).max();
        let executions_with_result = per_execution.len() as u64;
        let executions_per_second = match (first_sent, last_result) {
            (Some(first), Some(last)) => {
                executions_with_result as f64 / ((last - first).max(1) as f64 / 1000.0)
            }
            _ => 0.0,
        };
        let executions = produced.sent_ms.len() as u64;
        Report {
            records: produced.records,
            produce_rate: if produced.send_seconds > 0.0 {
                produced.records as f64 / produced.send_seconds
            } else {
                0.0
            },
            acknowledged_seconds: produced.seconds,
            executions,
            duplicates_produced: produced.duplicates,
            results,
            executions_with_result,
            executions_per_second,
            latency_ms,
            duplicates_suppressed: produced.duplicates.saturating_sub(duplicates_through),
            duplicates_through,
            through_examples,
            missing: executions - executions_with_result,
            errors,
            per_partition,
        }
    }

    /// The human-readable lines.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "produced      {} start records ({} executions + {} duplicates) at {:.0} records/s, all acknowledged after {:.1} s",
                self.records, self.executions, self.duplicates_produced, self.produce_rate, self.acknowledged_seconds
            ),
            format!(
                "results       {} received for {} executions: {:.0} executions/s",
                self.results, self.executions_with_result, self.executions_per_second
            ),
        ];
        lines.push(match self.latency_ms {
            Some(l) => format!(
                "latency       p50 {} ms   p90 {} ms   p99 {} ms   max {} ms (result − start record timestamp)",
                l.p50, l.p90, l.p99, l.max
            ),
            None => "latency       no results".to_owned(),
        });
        lines.push(format!(
            "duplicates    {} produced: {} suppressed, {} got through{}",
            self.duplicates_produced,
            self.duplicates_suppressed,
            self.duplicates_through,
            if self.through_examples.is_empty() {
                String::new()
            } else {
                format!(" (executions {:?}…)", self.through_examples)
            }
        ));
        lines.push(format!(
            "missing       {} executions without a result",
            self.missing
        ));
        lines.push(if self.errors.is_empty() {
            "errors        none".to_owned()
        } else {
            let errors: Vec<String> = self
                .errors
                .iter()
                .map(|(n, c)| format!("{n} {c}"))
                .collect();
            format!("errors        {}", errors.join(", "))
        });
        let partitions: Vec<String> = self
            .per_partition
            .iter()
            .map(|(p, c)| format!("{p}:{c}"))
            .collect();
        lines.push(format!("per partition {}", partitions.join(" ")));
        lines
    }

    /// The machine-readable line.
    pub(crate) fn json(&self) -> Value {
        json!({
            "records_produced": self.records,
            "produce_rate": self.produce_rate.round(),
            "acknowledged_seconds": (self.acknowledged_seconds * 10.0).round() / 10.0,
            "executions": self.executions,
            "duplicates_produced": self.duplicates_produced,
            "results_received": self.results,
            "executions_with_result": self.executions_with_result,
            "executions_per_second": self.executions_per_second.round(),
            "latency_ms": self.latency_ms.map(|l| json!({"p50": l.p50, "p90": l.p90, "p99": l.p99, "max": l.max})),
            "duplicates_suppressed": self.duplicates_suppressed,
            "duplicates_through": self.duplicates_through,
            "missing": self.missing,
            "errors": self.errors,
            "results_per_partition": self.per_partition.iter().map(|(p, c)| (p.to_string(), *c)).collect::<BTreeMap<_, _>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.50), Some(50));
        assert_eq!(percentile(&values, 0.90), Some(90));
        assert_eq!(percentile(&values, 0.99), Some(99));
        assert_eq!(percentile(&values, 1.0), Some(100));
        assert_eq!(percentile(&values, 0.0), Some(1));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), Some(2));
        assert_eq!(percentile(&[], 0.5), None);
    }

    fn seen(execution: u64, timestamp_ms: i64) -> Seen {
        Seen {
            execution,
            timestamp_ms,
            status: "SUCCEEDED".into(),
            error: None,
            partition: Some((execution % 2) as i64),
            arn: None,
        }
    }

    /// Ten executions sent at 1000 + 10·i ms, two of them duplicated; result i comes i+1 ms
    /// after its start record.
    fn produced() -> Produced {
        Produced {
            records: 12,
            duplicates: 2,
            sent_ms: (0..10).map(|i| (i, 1000 + 10 * i as i64)).collect(),
            send_seconds: 0.5,
            seconds: 0.6,
        }
    }

    #[test]
    fn a_clean_run() {
        let results: Vec<Seen> = (0..10).map(|i| seen(i, 1000 + 11 * i as i64 + 1)).collect();
        let report = Report::new(&produced(), &results);
        assert_eq!(report.records, 12);
        assert_eq!(report.produce_rate, 24.0);
        assert_eq!(report.results, 10);
        assert_eq!(report.executions_with_result, 10);
        assert_eq!(report.duplicates_suppressed, 2);
        assert_eq!(report.duplicates_through, 0);
        assert_eq!(report.missing, 0);
        assert!(report.errors.is_empty());
        assert_eq!(
            report.latency_ms,
            Some(Latency {
                p50: 5,
                p90: 9,
                p99: 10,
                max: 10
            })
        );
        // 10 executions from the first send (1000) to the last result (1100): 100 ms.
        assert_eq!(report.executions_per_second, 100.0);
        assert_eq!(report.per_partition, BTreeMap::from([(0, 5), (1, 5)]));
    }

    #[test]
    fn a_duplicate_that_ran_again_is_reported_and_does_not_skew_latency() {
        let mut results: Vec<Seen> = (0..10).map(|i| seen(i, 1000 + 10 * i as i64 + 3)).collect();
        // Execution 4's duplicate ran too, two seconds later; execution 9 never came back.
        results.push(seen(4, 3040));
        results.retain(|r| r.execution != 9);
        let report = Report::new(&produced(), &results);
        assert_eq!(report.results, 10);
        assert_eq!(report.executions_with_result, 9);
        assert_eq!(report.duplicates_through, 1);
        assert_eq!(report.through_examples, vec![4]);
        assert_eq!(report.duplicates_suppressed, 1);
        assert_eq!(report.missing, 1);
        assert_eq!(
            report.latency_ms.map(|l| l.max),
            Some(3),
            "first result only"
        );
        let line = report.lines().join("\n");
        assert!(line.contains("1 got through (executions [4]…)"), "{line}");
        assert_eq!(report.json()["duplicates_through"], 1);
        assert_eq!(report.json()["missing"], 1);
    }

    #[test]
    fn errors_are_counted_by_name_and_foreign_results_ignored() {
        let mut results: Vec<Seen> = (0..10).map(|i| seen(i, 2000)).collect();
        results[1].status = "FAILED".into();
        results[1].error = Some("States.DataLimitExceeded".into());
        results[2].status = "FAILED".into();
        results[2].error = Some("States.DataLimitExceeded".into());
        results[3].status = "TIMED_OUT".into();
        results.push(seen(999, 2000));
        let report = Report::new(&produced(), &results);
        assert_eq!(report.results, 10, "execution 999 is another run's");
        assert_eq!(
            report.errors,
            BTreeMap::from([
                ("States.DataLimitExceeded".to_owned(), 2),
                ("TIMED_OUT".to_owned(), 1)
            ])
        );
        assert_eq!(report.json()["errors"]["States.DataLimitExceeded"], 2);
    }
}

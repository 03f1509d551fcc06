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
    /// With `--timestamps append`: each execution's (original record's) broker append time,
    /// epoch ms, from its delivery report; empty otherwise.
    pub append_ms: HashMap<u64, i64>,
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

impl Latency {
    pub(crate) fn json(self) -> Value {
        json!({"p50": self.p50, "p90": self.p90, "p99": self.p99, "max": self.max})
    }
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
    /// End to end: result record timestamp − the producer's timestamp of the start record.
    pub latency_ms: Option<Latency>,
    /// With append timestamps: result append − start record append, the worker and broker
    /// alone (the load generator's producer queueing left out).
    pub append_latency_ms: Option<Latency>,
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

/// The percentiles of `latencies` (sorted here).
pub(crate) fn latency(mut latencies: Vec<i64>) -> Option<Latency> {
    latencies.sort_unstable();
    percentile(&latencies, 0.50).map(|p50| Latency {
        p50,
        p90: percentile(&latencies, 0.90).unwrap_or(p50),
        p99: percentile(&latencies, 0.99).unwrap_or(p50),
        max: *latencies.last().unwrap_or(&p50),
    })
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
        let latency_ms = latency(
            per_execution
                .iter()
                .map(|(execution, (_, first))| first - produced.sent_ms[execution])
                .collect(),
        );
        let append_latency_ms = latency(
            per_execution
                .iter()
                .filter_map(|(execution, (_, first))| {
                    Some(first - produced.append_ms.get(execution)?)
                })
                .collect(),
        );
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
            append_latency_ms,
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
        if let Some(l) = self.append_latency_ms {
            lines.push(format!(
                "latency       p50 {} ms   p90 {} ms   p99 {} ms   max {} ms (result append − start append, broker time)",
                l.p50, l.p90, l.p99, l.max
            ));
        }
        lines.push(match self.latency_ms {
            Some(l) => format!(
                "{}p50 {} ms   p90 {} ms   p99 {} ms   max {} ms (result − start record timestamp{})",
                if self.append_latency_ms.is_some() { "end-to-end    " } else { "latency       " },
                l.p50, l.p90, l.p99, l.max,
                if self.append_latency_ms.is_some() { " from the producer's clock" } else { "" }
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
            "latency_ms": self.latency_ms.map(Latency::json),
            "append_latency_ms": self.append_latency_ms.map(Latency::json),
            "duplicates_suppressed": self.duplicates_suppressed,
            "duplicates_through": self.duplicates_through,
            "missing": self.missing,
            "errors": self.errors,
            "results_per_partition": self.per_partition.iter().map(|(p, c)| (p.to_string(), *c)).collect::<BTreeMap<_, _>>(),
        })
    }
}

impl Report {
    /// The headline latency: from append times when there are any, else end to end.
    pub(crate) fn headline(&self) -> Option<Latency> {
        self.append_latency_ms.or(self.latency_ms)
    }

    /// One line for a phase reported apart (the warm-up): its rate, results and latencies.
    pub(crate) fn summary(&self, label: &str) -> String {
        let show = |l: Option<Latency>| match l {
            Some(l) => format!("p50 {} p90 {} p99 {} max {} ms", l.p50, l.p90, l.p99, l.max),
            None => "no results".to_owned(),
        };
        let append = match self.append_latency_ms {
            Some(_) => format!("append {}; ", show(self.append_latency_ms)),
            None => String::new(),
        };
        format!(
            "{label:<13} {} executions at {:.0} records/s: {:.0} executions/s, {} missing; latency {append}end-to-end {}",
            self.executions,
            self.produce_rate,
            self.executions_per_second,
            self.missing,
            show(self.latency_ms)
        )
    }
}

/// Whether a sweep step could not keep up: results came at under 90% of the offered rate,
/// or some never came.
pub(crate) fn saturated(offered: u64, report: &Report) -> bool {
    report.missing > 0 || report.executions_per_second < 0.9 * offered as f64
}

/// The sweep's table: offered rate → achieved, percentiles (append times when measured),
/// end-to-end p99, and whether the step saturated.
pub(crate) fn sweep_table(steps: &[(u64, Report)]) -> Vec<String> {
    let append = steps.iter().any(|(_, r)| r.append_latency_ms.is_some());
    let mut lines = vec![
        format!(
            "sweep         latency in ms, {}",
            if append {
                "result append − start append; e2e = from the producer's clock"
            } else {
                "result − start record timestamp"
            }
        ),
        format!(
            "{:>9} {:>9} {:>10} {:>6} {:>6} {:>6} {:>6} {:>8}  {}",
            "offered/s", "sent/s", "achieved/s", "p50", "p90", "p99", "max", "e2e p99", ""
        ),
    ];
    for (offered, report) in steps {
        let l = report.headline();
        let cell = |f: fn(Latency) -> i64| l.map_or("-".to_owned(), |l| f(l).to_string());
        lines.push(format!(
            "{:>9} {:>9.0} {:>10.0} {:>6} {:>6} {:>6} {:>6} {:>8}  {}",
            offered,
            report.produce_rate,
            report.executions_per_second,
            cell(|l| l.p50),
            cell(|l| l.p90),
            cell(|l| l.p99),
            cell(|l| l.max),
            report
                .latency_ms
                .map_or("-".to_owned(), |l| l.p99.to_string()),
            if saturated(*offered, report) {
                "saturated"
            } else {
                ""
            }
        ));
    }
    lines
}

/// The sweep as JSON: one object per step.
pub(crate) fn sweep_json(steps: &[(u64, Report)]) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|(offered, report)| {
                json!({
                    "offered": offered,
                    "produce_rate": report.produce_rate.round(),
                    "executions_per_second": report.executions_per_second.round(),
                    "append_latency_ms": report.append_latency_ms.map(Latency::json),
                    "latency_ms": report.latency_ms.map(Latency::json),
                    "missing": report.missing,
                    "saturated": saturated(*offered, report),
                })
            })
            .collect(),
    )
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
            append_ms: HashMap::new(),
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

    #[test]
    fn append_times_give_their_own_latency_beside_end_to_end() {
        let mut produced = produced();
        // The broker appended each start record 4 ms after the producer stamped it.
        produced.append_ms = produced
            .sent_ms
            .iter()
            .map(|(e, ms)| (*e, ms + 4))
            .collect();
        let results: Vec<Seen> = (0..10).map(|i| seen(i, 1000 + 10 * i as i64 + 6)).collect();
        let report = Report::new(&produced, &results);
        assert_eq!(report.latency_ms.map(|l| (l.p50, l.p99)), Some((6, 6)));
        assert_eq!(
            report.append_latency_ms.map(|l| (l.p50, l.max)),
            Some((2, 2))
        );
        assert_eq!(report.headline().map(|l| l.p99), Some(2));
        let lines = report.lines().join("\n");
        assert!(
            lines.contains("p99 2 ms   max 2 ms (result append − start append"),
            "{lines}"
        );
        assert!(lines.contains("end-to-end    p50 6 ms"), "{lines}");
        assert_eq!(report.json()["append_latency_ms"]["p99"], 2);
        assert_eq!(report.json()["latency_ms"]["p99"], 6);
        let summary = report.summary("warm-up");
        assert!(
            summary.starts_with("warm-up       10 executions"),
            "{summary}"
        );
        assert!(
            summary.contains("append p50 2 p90 2 p99 2 max 2 ms; end-to-end p50 6"),
            "{summary}"
        );
        // Without append times only end to end, under its old name.
        let plain = Report::new(&self::produced(), &results);
        assert_eq!(plain.append_latency_ms, None);
        assert!(plain.lines().join("\n").contains("latency       p50 6 ms"));
        assert!(plain.json()["append_latency_ms"].is_null());
    }

    #[test]
    fn the_sweep_table_marks_the_rate_it_could_not_keep_up_with() {
        // 10 executions over 100 ms: 100 executions/s achieved.
        let results: Vec<Seen> = (0..10).map(|i| seen(i, 1000 + 11 * i as i64 + 1)).collect();
        let report = Report::new(&produced(), &results);
        assert!(!saturated(100, &report));
        assert!(!saturated(110, &report), "within 90%");
        assert!(saturated(200, &report));
        let mut short = results.clone();
        short.pop();
        let missing = Report::new(&produced(), &short);
        assert!(saturated(10, &missing), "an execution without its result");
        let table = sweep_table(&[(100, report.clone()), (200, report)]);
        assert_eq!(table.len(), 4, "{table:?}");
        assert!(
            table[0].contains("result − start record timestamp"),
            "{}",
            table[0]
        );
        let row: Vec<&str> = table[2].split_whitespace().collect();
        assert_eq!(
            row,
            ["100", "24", "100", "5", "9", "10", "10", "10"],
            "{}",
            table[2]
        );
        assert!(table[3].ends_with("saturated"), "{}", table[3]);
        let json = sweep_json(&[(200, Report::new(&produced(), &results))]);
        assert_eq!(json[0]["offered"], 200);
        assert_eq!(json[0]["saturated"], true);
        assert_eq!(json[0]["latency_ms"]["p99"], 10);
    }
}

//! CPU time per process, for the scaling report: `utime + stime` of each worker and of the
//! broker's JVM from `/proc/PID/stat`, read before and after a measured phase, divided by the
//! executions it completed. The broker is found as the process that listens on the
//! bootstrap port (`/proc/net/tcp*` gives the socket's inode, `/proc/*/fd` its owner), or
//! named with `--broker-pid`. Parsing is pure; sampling reads `/proc`.

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::time::Instant;

/// `utime + stime` of `/proc/PID/stat`'s text, in clock ticks. The command name (field 2)
/// is in parentheses and may hold spaces or parentheses itself, so fields are counted from
/// the last `)`: state is field 3, utime 14, stime 15.
pub(crate) fn parse_stat_ticks(stat: &str) -> Result<u64> {
    let after = stat
        .rfind(')')
        .map(|at| &stat[at + 1..])
        .context("no command name in /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state): utime (14) is fields[11], stime (15) fields[12].
    let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
        bail!("/proc stat has {} fields after the name", fields.len());
    };
    let utime: u64 = utime.parse().with_context(|| format!("utime {utime:?}"))?;
    let stime: u64 = stime.parse().with_context(|| format!("stime {stime:?}"))?;
    Ok(utime + stime)
}

/// The inode of the socket listening on `port` in `/proc/net/tcp` or `tcp6` text (state
/// `0A`, LISTEN), on any local address.
pub(crate) fn listening_inode(net_tcp: &str, port: u16) -> Option<u64> {
    let wanted = format!("{port:04X}");
    net_tcp.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local = fields.get(1)?;
        let (_, local_port) = local.rsplit_once(':')?;
        if local_port != wanted || fields.get(3) != Some(&"0A") {
            return None;
        }
        fields.get(9)?.parse().ok()
    })
}

/// The port of the first `host:port` in a bootstrap list.
pub(crate) fn first_port(brokers: &str) -> Option<u16> {
    brokers.split(',').next()?.rsplit_once(':')?.1.parse().ok()
}

/// The process that listens on `port` on this machine, if any (and readable).
pub(crate) fn listener_pid(port: u16) -> Option<u32> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|text| listening_inode(&text, port))?;
    let socket = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == socket.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

/// Clock ticks per second (`getconf CLK_TCK`; 100, Linux's USER_HZ, when it cannot say).
pub(crate) fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

fn ticks(pid: u32) -> Option<u64> {
    parse_stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?).ok()
}

/// The processes measured: the workers load started and the broker.
#[derive(Debug, Clone)]
pub(crate) struct Processes {
    pub workers: Vec<u32>,
    pub broker: Option<u32>,
    /// The Redis server of the idempotency store, when it runs here.
    pub redis: Option<u32>,
    pub ticks_per_second: u64,
}

/// One reading of every process's CPU ticks, and when.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    at: Instant,
    /// Per worker (None: gone).
    workers: Vec<Option<u64>>,
    broker: Option<u64>,
    redis: Option<u64>,
}

impl Processes {
    pub(crate) fn sample(&self) -> Sample {
        Sample {
            at: Instant::now(),
            workers: self.workers.iter().map(|&pid| ticks(pid)).collect(),
            broker: self.broker.and_then(ticks),
            redis: self.redis.and_then(ticks),
        }
    }
}

/// CPU used between two samples, and per execution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Usage {
    pub seconds: f64,
    pub executions: u64,
    /// All workers together, CPU microseconds (None: no worker was measured through).
    pub worker_us: Option<u64>,
    /// Each worker's, CPU microseconds.
    pub per_worker_us: Vec<Option<u64>>,
    pub broker_us: Option<u64>,
    pub redis_us: Option<u64>,
}

/// CPU microseconds of `ticks` at `per_second`.
fn micros(ticks: u64, per_second: u64) -> u64 {
    ticks * 1_000_000 / per_second.max(1)
}

/// Between `before` and `after`, with `executions` completed.
pub(crate) fn usage(
    before: &Sample,
    after: &Sample,
    ticks_per_second: u64,
    executions: u64,
) -> Usage {
    let delta =
        |a: Option<u64>, b: Option<u64>| Some(micros(b?.checked_sub(a?)?, ticks_per_second));
    let per_worker_us: Vec<Option<u64>> = before
        .workers
        .iter()
        .zip(&after.workers)
        .map(|(a, b)| delta(*a, *b))
        .collect();
    let measured: Vec<u64> = per_worker_us.iter().flatten().copied().collect();
    Usage {
        seconds: after.at.duration_since(before.at).as_secs_f64(),
        executions,
        worker_us: (!measured.is_empty()).then(|| measured.iter().sum()),
        per_worker_us,
        broker_us: delta(before.broker, after.broker),
        redis_us: delta(before.redis, after.redis),
    }
}

impl Usage {
    fn per_execution(&self, us: Option<u64>) -> Option<f64> {
        (self.executions > 0).then(|| us.map(|us| us as f64 / self.executions as f64))?
    }

    fn cores(&self, us: Option<u64>) -> Option<f64> {
        (self.seconds > 0.0).then(|| us.map(|us| us as f64 / 1e6 / self.seconds))?
    }

    /// The report's line.
    pub(crate) fn line(&self) -> String {
        let part = |name: &str, us: Option<u64>| match (self.per_execution(us), self.cores(us)) {
            (Some(per), Some(cores)) => {
                format!("{name} {per:.1} µs/execution ({cores:.2} cores)")
            }
            _ => format!("{name} not measured"),
        };
        let redis = match self.redis_us {
            Some(_) => format!(", {}", part("redis", self.redis_us)),
            None => String::new(),
        };
        format!(
            "cpu           {}, {}{redis} over {:.1} s, {} executions (utime+stime from /proc)",
            part("workers", self.worker_us),
            part("broker", self.broker_us),
            self.seconds,
            self.executions
        )
    }

    pub(crate) fn json(&self) -> Value {
        let round = |x: Option<f64>| x.map(|x| (x * 10.0).round() / 10.0);
        let hundredths = |x: Option<f64>| x.map(|x| (x * 100.0).round() / 100.0);
        json!({
            "seconds": (self.seconds * 10.0).round() / 10.0,
            "executions": self.executions,
            "worker_us": self.worker_us,
            "per_worker_us": self.per_worker_us,
            "broker_us": self.broker_us,
            "worker_us_per_execution": round(self.per_execution(self.worker_us)),
            "broker_us_per_execution": round(self.per_execution(self.broker_us)),
            "worker_cores": hundredths(self.cores(self.worker_us)),
            "broker_cores": hundredths(self.cores(self.broker_us)),
            "redis_us": self.redis_us,
            "redis_us_per_execution": round(self.per_execution(self.redis_us)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // A real /proc/PID/stat line of a JVM, its name with a space and a parenthesis.
    const STAT: &str = "4242 (java (kafka) x) S 1 4242 4242 0 -1 4194560 123456 0 12 0 \
        7350 1210 0 0 20 0 88 0 5123 4000000000 150000 18446744073709551615 1 1 0 0 0 0 0 \
        3 16800972 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn stat_ticks_are_utime_plus_stime_counted_from_the_last_parenthesis() {
        assert_eq!(parse_stat_ticks(STAT).expect("parses"), 7350 + 1210);
        assert!(
            parse_stat_ticks("4242 (java) S 1 2 3").is_err(),
            "too short"
        );
        assert!(parse_stat_ticks("no name at all").is_err());
        let garbled = STAT.replace(" 7350 ", " x ");
        assert!(parse_stat_ticks(&garbled).is_err());
    }

    #[test]
    fn the_listening_socket_is_found_by_port_and_state() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:4B8C 0100007F:D2A8 01 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 20 4 30 10 -1\n\
   1: 0100007F:4B8C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0\n\
   2: 0100007F:4B8D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0\n";
        // 0x4B8C = 19340: the established connection (01) is skipped, the listener found.
        assert_eq!(listening_inode(tcp, 19340), Some(222));
        assert_eq!(listening_inode(tcp, 19341), Some(333));
        assert_eq!(listening_inode(tcp, 9092), None);
        let tcp6 = "  sl  local_address                         remote_address                        st\n\
   0: 00000000000000000000000001000000:2384 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 444 1\n";
        assert_eq!(listening_inode(tcp6, 9092), Some(444));
        assert_eq!(first_port("127.0.0.1:19300,127.0.0.1:19301"), Some(19300));
        assert_eq!(first_port("localhost"), None);
    }

    #[test]
    fn this_process_is_found_and_measured() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        assert_eq!(listener_pid(port), Some(std::process::id()));
        let processes = Processes {
            workers: vec![std::process::id(), u32::MAX],
            broker: None,
            redis: None,
            ticks_per_second: ticks_per_second(),
        };
        let before = processes.sample();
        // Spin until this process has used 100 ms of CPU (on a busy machine that takes
        // longer than 100 ms of wall time); /proc must see it.
        let give_up = Instant::now() + Duration::from_secs(30);
        let mut x = 0u64;
        let start = ticks(std::process::id()).expect("own stat");
        let wanted = processes.ticks_per_second / 10;
        while ticks(std::process::id()).expect("own stat") < start + wanted {
            assert!(Instant::now() < give_up, "no CPU time seen in 30 s");
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
            }
        }
        let after = processes.sample();
        let used = usage(&before, &after, processes.ticks_per_second, 1000);
        assert_eq!(used.per_worker_us[1], None, "a pid that does not exist");
        let us = used.worker_us.expect("this process measured");
        assert!(us >= 100_000, "spun for 100 ms of CPU, measured {us} µs");
        assert_eq!(used.broker_us, None);
        let line = used.line();
        assert!(
            line.contains("µs/execution") && line.contains("broker not measured"),
            "{line}"
        );
        assert!(
            used.json()["worker_us_per_execution"]
                .as_f64()
                .expect("number")
                >= 50.0
        );
    }

    #[test]
    fn usage_is_per_execution_and_in_cores() {
        let at = Instant::now();
        let before = Sample {
            at,
            workers: vec![Some(100), Some(50)],
            broker: Some(1000),
            redis: Some(7),
        };
        let after = Sample {
            at: at + Duration::from_secs(2),
            workers: vec![Some(300), Some(150)],
            broker: Some(1100),
            redis: Some(17),
        };
        let used = usage(&before, &after, 100, 10_000);
        // Workers 300 ticks = 3 s of CPU over 2 s; the broker 1 s.
        assert_eq!(used.worker_us, Some(3_000_000));
        assert_eq!(used.per_worker_us, vec![Some(2_000_000), Some(1_000_000)]);
        assert_eq!(used.broker_us, Some(1_000_000));
        let json = used.json();
        assert_eq!(json["worker_us_per_execution"], 300.0);
        assert_eq!(json["broker_us_per_execution"], 100.0);
        assert_eq!(json["worker_cores"], 1.5);
        assert_eq!(json["broker_cores"], 0.5);
        assert_eq!(json["redis_us_per_execution"], 10.0);
        assert!(
            used.line()
                .contains(", redis 10.0 µs/execution (0.05 cores)"),
            "{}",
            used.line()
        );
        let none = usage(&before, &after, 100, 0);
        assert!(
            none.line().contains("workers not measured"),
            "no executions: no ratio"
        );
    }
}

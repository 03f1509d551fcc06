//! CPU time per process, for the scaling report: `utime + stime` of each worker and of the
//! broker's JVM from `/proc/PID/stat`, read before and after a measured phase, divided by the
//! executions it completed. The broker is found as the process that listens on the
//! bootstrap port (`/proc/net/tcp*` gives the socket's inode, `/proc/*/fd` its owner), or
//! named with `--broker-pid`. Redis's forked children (an AOF rewrite, a snapshot) are not
//! in its own figure: their CPU (`cutime + cstime`, once Redis has reaped them) and the forks
//! counted by its INFO are read beside it, since on a shared machine such a child takes a
//! core from everything else. Parsing is pure; sampling reads `/proc` and asks Redis.

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use std::time::Instant;

/// A process's CPU in clock ticks: its own, and its reaped children's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticks {
    /// `utime + stime`.
    pub own: u64,
    /// `cutime + cstime`: children that have ended and been waited for.
    pub children: u64,
}

/// The ticks of `/proc/PID/stat`'s text. The command name (field 2) is in parentheses and
/// may hold spaces or parentheses itself, so fields are counted from the last `)`: state is
/// field 3, utime 14, stime 15, cutime 16, cstime 17.
pub(crate) fn parse_stat_ticks(stat: &str) -> Result<Ticks> {
    let after = stat
        .rfind(')')
        .map(|at| &stat[at + 1..])
        .context("no command name in /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state): field n is fields[n - 3].
    let field = |n: usize, name: &str| -> Result<u64> {
        let Some(text) = fields.get(n - 3) else {
            bail!("/proc stat has {} fields after the name", fields.len());
        };
        text.parse().with_context(|| format!("{name} {text:?}"))
    };
    Ok(Ticks {
        own: field(14, "utime")? + field(15, "stime")?,
        children: field(16, "cutime")? + field(17, "cstime")?,
    })
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

fn stat(pid: u32) -> Option<Ticks> {
    parse_stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?).ok()
}

fn ticks(pid: u32) -> Option<u64> {
    stat(pid).map(|t| t.own)
}

/// The whole machine's CPU from `/proc/stat`'s first line, in clock ticks: busy (user, nice,
/// system, irq, softirq, steal; guest time is inside user) and all (busy + idle + iowait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MachineTicks {
    pub busy: u64,
    pub all: u64,
}

pub(crate) fn parse_machine_ticks(proc_stat: &str) -> Result<MachineTicks> {
    let line = proc_stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no cpu line in /proc/stat")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().with_context(|| format!("/proc/stat field {f:?}")))
        .collect::<Result<_>>()?;
    if fields.len() < 8 {
        bail!("/proc/stat's cpu line has {} fields", fields.len());
    }
    // user nice system idle iowait irq softirq steal …
    let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
    Ok(MachineTicks {
        busy,
        all: busy + fields[3] + fields[4],
    })
}

fn machine() -> Option<MachineTicks> {
    parse_machine_ticks(&std::fs::read_to_string("/proc/stat").ok()?).ok()
}

/// Redis's persistence counters: forks started, AOF rewrites and snapshots done, and fsyncs
/// it had to wait for (INFO's `total_forks`, `aof_rewrites`, `rdb_saves`,
/// `aof_delayed_fsync`; a field an older server lacks is None).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Persistence {
    pub forks: Option<u64>,
    pub aof_rewrites: Option<u64>,
    pub snapshots: Option<u64>,
    pub delayed_fsyncs: Option<u64>,
}

/// The counters in INFO's text (`name:value` lines under `# Section` headings).
pub(crate) fn parse_persistence(info: &str) -> Persistence {
    let field = |name: &str| {
        info.lines().find_map(|line| {
            let (key, value) = line.trim_end().split_once(':')?;
            (key == name).then(|| value.parse().ok())?
        })
    };
    Persistence {
        forks: field("total_forks"),
        aof_rewrites: field("aof_rewrites"),
        snapshots: field("rdb_saves"),
        delayed_fsyncs: field("aof_delayed_fsync"),
    }
}

/// Asks the Redis at `url` for its INFO (a local server answers in well under a
/// millisecond; sampled twice a phase, so the blocking call is not worth a task).
fn persistence(url: &str) -> Option<Persistence> {
    let client = redis::Client::open(url).ok()?;
    let mut connection = client
        .get_connection_with_timeout(std::time::Duration::from_secs(2))
        .ok()?;
    let info: String = redis::cmd("INFO").query(&mut connection).ok()?;
    Some(parse_persistence(&info))
}

/// The processes measured: the workers load started and the broker.
#[derive(Debug, Clone)]
pub(crate) struct Processes {
    pub workers: Vec<u32>,
    pub broker: Option<u32>,
    /// The Redis server of the idempotency store, when it runs here.
    pub redis: Option<u32>,
    /// Its URL, to read its persistence counters.
    pub redis_url: Option<String>,
    pub ticks_per_second: u64,
}

/// One reading of every process's CPU ticks, and when.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    at: Instant,
    /// Per worker (None: gone).
    workers: Vec<Option<u64>>,
    broker: Option<u64>,
    redis: Option<Ticks>,
    persistence: Option<Persistence>,
    /// This process: the load generator and the reader of results.
    load: Option<u64>,
    machine: Option<MachineTicks>,
}

impl Processes {
    pub(crate) fn sample(&self) -> Sample {
        Sample {
            at: Instant::now(),
            workers: self.workers.iter().map(|&pid| ticks(pid)).collect(),
            broker: self.broker.and_then(ticks),
            redis: self.redis.and_then(stat),
            persistence: self.redis_url.as_deref().and_then(persistence),
            load: ticks(std::process::id()),
            machine: machine(),
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
    /// Redis's children that ended in the phase (a rewrite still running is not counted).
    pub redis_children_us: Option<u64>,
    /// Redis's persistence in the phase: each counter's increase.
    pub persistence: Option<Persistence>,
    /// The load generator's (this process).
    pub load_us: Option<u64>,
    /// Every core's busy time, and all their time (busy or not), on the machine.
    pub machine_busy_us: Option<u64>,
    pub machine_all_us: Option<u64>,
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
        redis_us: delta(before.redis.map(|t| t.own), after.redis.map(|t| t.own)),
        redis_children_us: delta(
            before.redis.map(|t| t.children),
            after.redis.map(|t| t.children),
        ),
        load_us: delta(before.load, after.load),
        machine_busy_us: delta(
            before.machine.map(|m| m.busy),
            after.machine.map(|m| m.busy),
        ),
        machine_all_us: delta(before.machine.map(|m| m.all), after.machine.map(|m| m.all)),
        persistence: match (before.persistence, after.persistence) {
            (Some(a), Some(b)) => {
                let grew = |a: Option<u64>, b: Option<u64>| b?.checked_sub(a?);
                Some(Persistence {
                    forks: grew(a.forks, b.forks),
                    aof_rewrites: grew(a.aof_rewrites, b.aof_rewrites),
                    snapshots: grew(a.snapshots, b.snapshots),
                    delayed_fsyncs: grew(a.delayed_fsyncs, b.delayed_fsyncs),
                })
            }
            _ => None,
        },
    }
}

impl Usage {
    fn per_execution(&self, us: Option<u64>) -> Option<f64> {
        (self.executions > 0).then(|| us.map(|us| us as f64 / self.executions as f64))?
    }

    fn cores(&self, us: Option<u64>) -> Option<f64> {
        (self.seconds > 0.0).then(|| us.map(|us| us as f64 / 1e6 / self.seconds))?
    }

    /// `us` as "N µs/execution (C cores)", when both can be said.
    fn share(&self, us: Option<u64>) -> Option<String> {
        let (per, cores) = (self.per_execution(us)?, self.cores(us)?);
        Some(format!("{per:.1} µs/execution ({cores:.2} cores)"))
    }

    /// The report's line on Redis's persistence, when Redis was asked.
    pub(crate) fn persistence_line(&self) -> Option<String> {
        let p = self.persistence?;
        let count = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
        let children = self
            .share(self.redis_children_us)
            .map_or(String::new(), |share| {
                format!("; its children that ended used {share}, not in the redis figure")
            });
        Some(format!(
            "redis         {} forks (AOF rewrites {}, snapshots {}), {} delayed fsyncs in the phase{children}",
            count(p.forks),
            count(p.aof_rewrites),
            count(p.snapshots),
            count(p.delayed_fsyncs),
        ))
    }

    /// The machine's busy cores in the phase, and how much of that was neither the measured
    /// processes nor the load generator: another job's share makes the figures above
    /// unrepresentative (a quiet machine shows a few hundredths).
    pub(crate) fn machine_line(&self) -> Option<String> {
        let (busy, all) = (self.machine_busy_us?, self.machine_all_us?);
        let cores = |us: u64| self.cores(Some(us)).unwrap_or(0.0);
        let measured: u64 = [
            self.worker_us,
            self.broker_us,
            self.redis_us,
            self.redis_children_us,
            self.load_us,
        ]
        .iter()
        .flatten()
        .sum();
        Some(format!(
            "machine       {:.2} of {:.2} cores busy: the load generator {:.2}, anything not measured above {:.2}",
            cores(busy),
            cores(all),
            cores(self.load_us.unwrap_or(0)),
            cores(busy.saturating_sub(measured)),
        ))
    }

    /// The report's line.
    pub(crate) fn line(&self) -> String {
        let part = |name: &str, us: Option<u64>| match self.share(us) {
            Some(share) => format!("{name} {share}"),
            None => format!("{name} not measured"),
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
            "redis_children_us": self.redis_children_us,
            "load_generator_us": self.load_us,
            "machine_busy_us": self.machine_busy_us,
            "machine_all_us": self.machine_all_us,
            "redis_persistence": self.persistence.map(|p| json!({
                "forks": p.forks, "aof_rewrites": p.aof_rewrites,
                "snapshots": p.snapshots, "delayed_fsyncs": p.delayed_fsyncs,
            })),
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
        assert_eq!(
            parse_stat_ticks(STAT).expect("parses"),
            Ticks {
                own: 7350 + 1210,
                children: 0
            }
        );
        let reaped = STAT.replace(" 7350 1210 0 0 ", " 7350 1210 300 45 ");
        assert_eq!(parse_stat_ticks(&reaped).expect("parses").children, 345);
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
            redis_url: None,
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
            redis: Some(Ticks {
                own: 7,
                children: 40,
            }),
            persistence: Some(Persistence {
                forks: Some(3),
                aof_rewrites: Some(2),
                snapshots: None,
                delayed_fsyncs: Some(0),
            }),
            load: Some(5),
            machine: Some(MachineTicks {
                busy: 10_000,
                all: 20_000,
            }),
        };
        let after = Sample {
            at: at + Duration::from_secs(2),
            workers: vec![Some(300), Some(150)],
            broker: Some(1100),
            redis: Some(Ticks {
                own: 17,
                children: 60,
            }),
            persistence: Some(Persistence {
                forks: Some(4),
                aof_rewrites: Some(3),
                snapshots: None,
                delayed_fsyncs: Some(2),
            }),
            load: Some(55),
            machine: Some(MachineTicks {
                busy: 10_000 + 600,
                all: 20_000 + 400 * 2,
            }),
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
        // Redis's reaped children: 20 ticks = 0.2 s; one rewrite (one fork) in the phase.
        assert_eq!(used.redis_children_us, Some(200_000));
        assert_eq!(json["redis_persistence"]["aof_rewrites"], 1);
        assert_eq!(json["redis_persistence"]["snapshots"], Value::Null);
        let line = used.persistence_line().expect("redis was asked");
        assert!(
            line.contains("1 forks (AOF rewrites 1, snapshots ?), 2 delayed fsyncs")
                && line.contains("20.0 µs/execution (0.10 cores)"),
            "{line}"
        );
        // 2 s of four cores: 800 ticks. Busy 600 = workers 300 + broker 100 + redis 10
        // + its children 20 + the generator 50, and 120 of someone else's.
        assert_eq!(
            used.machine_line().expect("/proc/stat read"),
            "machine       3.00 of 4.00 cores busy: the load generator 0.25, anything not measured above 0.60"
        );
        assert_eq!(json["load_generator_us"], 500_000);
        let none = usage(&before, &after, 100, 0);
        assert!(
            none.line().contains("workers not measured"),
            "no executions: no ratio"
        );
        let unasked = Sample {
            persistence: None,
            ..after.clone()
        };
        assert_eq!(usage(&before, &unasked, 100, 1).persistence_line(), None);
    }

    #[test]
    fn the_machine_s_ticks_are_read_from_proc_stat() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1\n";
        assert_eq!(
            parse_machine_ticks(stat).expect("parses"),
            MachineTicks {
                busy: 100 + 5 + 50 + 3 + 2 + 1,
                all: 161 + 1000 + 20,
            }
        );
        assert!(parse_machine_ticks("cpu  1 2 3\n").is_err());
        assert!(parse_machine_ticks("intr 1\n").is_err());
        let here = machine().expect("this machine's /proc/stat");
        assert!(here.all >= here.busy && here.all > 0);
    }

    #[test]
    fn persistence_counters_are_read_from_info() {
        // Lines as Redis 7.0 prints them (CRLF), sections in between.
        let info = "# Persistence\r\nloading:0\r\nrdb_saves:2\r\naof_rewrites:5\r\n\
                    aof_delayed_fsync:1\r\n\r\n# Stats\r\ntotal_forks:7\r\n";
        assert_eq!(
            parse_persistence(info),
            Persistence {
                forks: Some(7),
                aof_rewrites: Some(5),
                snapshots: Some(2),
                delayed_fsyncs: Some(1),
            }
        );
        // An older server without rdb_saves; a garbled value is unknown, not zero.
        let old = parse_persistence("total_forks:x\naof_rewrites:0\n");
        assert_eq!(old.forks, None);
        assert_eq!(old.aof_rewrites, Some(0));
        assert_eq!(old.snapshots, None);
    }

    #[test]
    fn a_redis_that_does_not_answer_gives_no_counters() {
        // A port nothing listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        assert_eq!(persistence(&format!("redis://127.0.0.1:{port}")), None);
        assert_eq!(persistence("not a url"), None);
    }

    /// On the real redis of `./test` (QUICKSTEP_TEST_REDIS): the names parsed are the ones
    /// the server prints, and a rewrite it runs shows as a fork and a rewrite.
    #[test]
    fn a_real_redis_rewrite_is_counted() {
        let Ok(url) = std::env::var("QUICKSTEP_TEST_REDIS") else {
            assert!(
                std::env::var("QUICKSTEP_BROKER_TESTS_REQUIRED").is_err(),
                "QUICKSTEP_TEST_REDIS is required"
            );
            eprintln!("SKIP: QUICKSTEP_TEST_REDIS is not set");
            return;
        };
        let before = persistence(&url).expect("INFO answered");
        let (Some(forks), Some(rewrites)) = (before.forks, before.aof_rewrites) else {
            panic!("counters missing: {before:?}");
        };
        let client = redis::Client::open(url.as_str()).expect("url");
        let mut connection = client.get_connection().expect("connects");
        // Refused only while another rewrite or a snapshot runs: then that one is counted.
        let _: redis::RedisResult<String> = redis::cmd("BGREWRITEAOF").query(&mut connection);
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            let now = persistence(&url).expect("INFO answered");
            if now.aof_rewrites > Some(rewrites) || now.snapshots > before.snapshots {
                assert!(
                    now.forks > Some(forks),
                    "a rewrite forks: {before:?} → {now:?}"
                );
                break;
            }
            assert!(Instant::now() < give_up, "no rewrite in 30 s: {now:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

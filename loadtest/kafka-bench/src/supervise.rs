//! The workers `kafka-bench load` started, and what it does to them on request: a control
//! file, followed while the run goes on, names one command a line — `kill N` (SIGKILL),
//! `stop N` (SIGSTOP), `cont N` (SIGCONT), `term N` (SIGTERM), `start N` (start worker N
//! again once it has exited). The chaos suite's schedule writes them; every action and every
//! exit is logged with its time and kept for the report.

use crate::Proc;
use anyhow::{bail, Context as _, Result};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use tokio::sync::watch;

/// One command of the control file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Kill,
    Stop,
    Cont,
    Term,
    Start,
}

/// Parses `VERB N`; blank lines and `#` comments are None.
pub(crate) fn parse(line: &str) -> Result<Option<(Action, usize)>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut words = line.split_whitespace();
    let action = match words.next() {
        Some("kill") => Action::Kill,
        Some("stop") => Action::Stop,
        Some("cont") => Action::Cont,
        Some("term") => Action::Term,
        Some("start") => Action::Start,
        _ => bail!("unknown command {line:?} (kill, stop, cont, term or start N)"),
    };
    let worker = words
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("{line:?}: no worker number"))?;
    if words.next().is_some() {
        bail!("{line:?}: one worker a line");
    }
    Ok(Some((action, worker)))
}

/// Starts worker `index` for the `generation`-th time (0 first).
pub(crate) type Spawn = Box<dyn Fn(usize, u32) -> Result<Proc> + Send>;

/// The workers, and what happened to them.
pub(crate) struct Workers {
    procs: Vec<Option<Proc>>,
    generations: Vec<u32>,
    spawn: Spawn,
    /// `{"worker", "at_ms", "event"}` for every action and exit.
    pub events: Vec<serde_json::Value>,
}

impl Workers {
    pub(crate) fn new(procs: Vec<Proc>, spawn: Spawn) -> Workers {
        let generations = vec![0; procs.len()];
        Workers {
            procs: procs.into_iter().map(Some).collect(),
            generations,
            spawn,
            events: Vec::new(),
        }
    }

    fn event(&mut self, worker: usize, event: String) {
        eprintln!("load: worker-{worker}: {event}");
        self.events.push(serde_json::json!({
            "worker": worker, "at_ms": crate::now_ms(), "event": event,
        }));
    }

    /// Carries out one command.
    pub(crate) fn apply(&mut self, action: Action, worker: usize) -> Result<()> {
        if worker >= self.procs.len() {
            bail!("no worker-{worker} (there are {})", self.procs.len());
        }
        if action == Action::Start {
            if self.procs[worker].is_some() {
                self.event(worker, "start ignored: still running".into());
                return Ok(());
            }
            self.generations[worker] += 1;
            let proc = (self.spawn)(worker, self.generations[worker])?;
            let pid = proc.0.id();
            self.procs[worker] = Some(proc);
            self.event(worker, format!("started again as pid {pid}"));
            return Ok(());
        }
        let Some(proc) = self.procs[worker].as_mut() else {
            self.event(worker, format!("{action:?} ignored: not running"));
            return Ok(());
        };
        let pid = proc.0.id();
        match action {
            Action::Kill => {
                proc.0.kill().context("SIGKILL")?;
                proc.0.wait().ok();
                self.procs[worker] = None;
                self.event(worker, format!("SIGKILL (pid {pid})"));
            }
            Action::Stop | Action::Cont | Action::Term => {
                let signal = match action {
                    Action::Stop => "STOP",
                    Action::Cont => "CONT",
                    _ => "TERM",
                };
                let status = Command::new("kill")
                    .arg(format!("-{signal}"))
                    .arg(pid.to_string())
                    .status()
                    .context("running kill")?;
                if !status.success() {
                    bail!("kill -{signal} {pid}: {status}");
                }
                self.event(worker, format!("SIG{signal} (pid {pid})"));
            }
            Action::Start => unreachable!("handled above"),
        }
        Ok(())
    }

    /// Notes workers that exited without being told to.
    fn reap(&mut self) {
        for worker in 0..self.procs.len() {
            let exited = match self.procs[worker].as_mut().map(|p| p.0.try_wait()) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(error)) => Some(error.to_string()),
                _ => None,
            };
            if let Some(status) = exited {
                self.procs[worker] = None;
                self.event(worker, format!("exited on its own: {status}"));
            }
        }
    }

    /// Follows `control` (when given) every 100 ms and reaps exits until `stop` says so;
    /// returns the workers (dropping them kills them).
    pub(crate) async fn supervise(
        mut self,
        control: Option<PathBuf>,
        mut stop: watch::Receiver<bool>,
    ) -> Workers {
        let mut offset = 0u64;
        let mut partial = String::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return self;
            }
            if let Some(path) = &control {
                for line in read_new(path, &mut offset, &mut partial) {
                    match parse(&line) {
                        Ok(Some((action, worker))) => {
                            if let Err(error) = self.apply(action, worker) {
                                eprintln!("load: control {line:?}: {error:#}");
                            }
                        }
                        Ok(None) => {}
                        Err(error) => eprintln!("load: control: {error:#}"),
                    }
                }
            }
            self.reap();
        }
    }
}

/// The complete lines appended to `path` since `offset`; an unfinished last line waits in
/// `partial`. A missing file has no lines yet.
fn read_new(path: &std::path::Path, offset: &mut u64, partial: &mut String) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut text = String::new();
    if file.seek(SeekFrom::Start(*offset)).is_err() || file.read_to_string(&mut text).is_err() {
        return Vec::new();
    }
    *offset += text.len() as u64;
    partial.push_str(&text);
    let mut lines: Vec<String> = partial.split('\n').map(str::to_owned).collect();
    *partial = lines.pop().unwrap_or_default();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn commands_parse_and_nonsense_is_refused() {
        assert_eq!(parse("kill 0").unwrap(), Some((Action::Kill, 0)));
        assert_eq!(parse("  stop 2 ").unwrap(), Some((Action::Stop, 2)));
        assert_eq!(parse("cont 1").unwrap(), Some((Action::Cont, 1)));
        assert_eq!(parse("term 1").unwrap(), Some((Action::Term, 1)));
        assert_eq!(parse("start 1").unwrap(), Some((Action::Start, 1)));
        assert_eq!(parse("# a comment").unwrap(), None);
        assert_eq!(parse("").unwrap(), None);
        assert!(parse("explode 1").is_err());
        assert!(parse("kill").is_err());
        assert!(parse("kill x").is_err());
        assert!(parse("kill 1 2").is_err());
    }

    #[test]
    fn the_control_file_is_followed_line_by_line() {
        let path = std::env::temp_dir().join(crate::unique("control-test"));
        let (mut offset, mut partial) = (0, String::new());
        assert!(
            read_new(&path, &mut offset, &mut partial).is_empty(),
            "missing file"
        );
        let mut file = std::fs::File::create(&path).unwrap();
        write!(file, "kill 0\nsto").unwrap();
        assert_eq!(read_new(&path, &mut offset, &mut partial), vec!["kill 0"]);
        writeln!(file, "p 1").unwrap();
        assert_eq!(read_new(&path, &mut offset, &mut partial), vec!["stop 1"]);
        assert!(read_new(&path, &mut offset, &mut partial).is_empty());
        std::fs::remove_file(&path).ok();
    }

    /// A real child (`sleep`) killed, restarted, stopped and continued through the commands.
    #[test]
    fn workers_are_killed_restarted_stopped_and_continued() {
        let spawn: Spawn = Box::new(|_, _| {
            Ok(Proc(
                Command::new("sleep").arg("30").spawn().context("sleep")?,
            ))
        });
        let first = spawn(0, 0).unwrap();
        let mut workers = Workers::new(vec![first], spawn);
        let state = |w: &Workers| {
            let pid = w.procs[0].as_ref().map(|p| p.0.id()).unwrap();
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap()
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned()
        };
        workers.apply(Action::Stop, 0).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(state(&workers), "T", "stopped");
        workers.apply(Action::Cont, 0).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(state(&workers), "S", "running (asleep) again");
        let before = workers.procs[0].as_ref().unwrap().0.id();
        workers.apply(Action::Start, 0).unwrap();
        assert_eq!(
            workers.procs[0].as_ref().unwrap().0.id(),
            before,
            "start leaves a running one"
        );
        workers.apply(Action::Kill, 0).unwrap();
        assert!(workers.procs[0].is_none());
        assert!(
            std::fs::metadata(format!("/proc/{before}/stat")).is_err()
                || std::fs::read_to_string(format!("/proc/{before}/stat"))
                    .unwrap()
                    .contains(") Z"),
            "killed"
        );
        workers.apply(Action::Cont, 0).unwrap(); // ignored: not running
        workers.apply(Action::Start, 0).unwrap();
        assert_ne!(
            workers.procs[0].as_ref().unwrap().0.id(),
            before,
            "a new process"
        );
        assert_eq!(workers.generations[0], 1);
        assert!(workers.apply(Action::Kill, 5).is_err());
        let events: Vec<String> = workers
            .events
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect();
        assert!(events[0].starts_with("SIGSTOP"), "{events:?}");
        assert!(
            events.iter().any(|e| e.starts_with("SIGKILL")),
            "{events:?}"
        );
        assert!(
            events.iter().any(|e| e.contains("ignored: not running")),
            "{events:?}"
        );
        assert!(
            events.last().unwrap().starts_with("started again"),
            "{events:?}"
        );
    }
}

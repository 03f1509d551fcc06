//! The shared store, for many workers: Redis, one atomic command per operation.
//!
//! Layout (other tools may read it, so it is part of the contract):
//! - key: `<prefix>:<state_machine>:<key>`, both parts escaped (`%` → `%25`, `:` → `%3A`,
//!   `|` → `%7C`), so any key bytes give a distinct Redis key;
//! - value: `running|<topic>|<partition>|<offset>` or
//!   `completed|<topic>|<partition>|<offset>|<execution arn>`, the topic escaped likewise and
//!   the ARN last and verbatim;
//! - TTL: `PX` milliseconds (running TTL, then the idempotency window from completion).
//!
//! A claim is one native `SET key value NX PX ttl GET` on Redis 7.0 and later (it answers the
//! value held before and sets only when the key was absent: the first, third and fourth rows
//! of the module table in [`super`]); only when that value is this record's own running claim
//! (a redelivery, rare) does a Lua script decide the take-over atomically. Before 7.0, and
//! where `INFO` does not say the version, every claim runs the script. Completion and release
//! compare before they write, which no native command of Redis 7.0 does: Lua scripts, run by
//! `EVALSHA` and loaded again on `NOSCRIPT` (e.g. after a Redis restart). The native claim
//! costs Redis about a quarter less CPU than the script (`redis-benchmark`: 13–15 against
//! 18–20 µs a claim), a third less per execution unpaced (loadtest/README.md, Three workers
//! with Redis); `the_claim_command_follows_the_server_version` and the conformance tests,
//! which run both ways, hold it.
//!
//! Every operation touches one key, so the store works on a Redis Cluster as on one server
//! (`redis-cluster://host:port[,host:port…]`, the seed nodes): each key goes to its slot's
//! primary, and the scripts run there. One Redis process is one core (18–24 µs of it per
//! execution: 40,000–55,000 executions/s); past that the cluster spreads the window over
//! shards (README, Scaling to 100,000).

use super::{effective_ttl, Claim, ClaimKey, DuplicateOf, IdempotencyStore, RecordId, StoreError};
use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{
    Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisFuture, Script, ServerErrorKind,
    Value,
};
use futures::future::BoxFuture;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Claim: absent → running by this record; running by this record → refresh TTL; else the
/// current value. Answers `{0, ''}` claimed, `{1, ''}` taken over, `{2, current}` duplicate.
const CLAIM: &str = r"
local current = redis.call('GET', KEYS[1])
local mine = 'running|' .. ARGV[1]
if not current then
  redis.call('SET', KEYS[1], mine, 'PX', ARGV[2])
  return {0, ''}
end
if current == mine then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, ''}
end
return {2, current}
";

/// Complete: if absent or running by this record, completed for the window. Answers 1 if
/// written, 0 if left as it was.
const COMPLETE: &str = r"
local current = redis.call('GET', KEYS[1])
if (not current) or current == 'running|' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'completed|' .. ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Release: delete only if running by this record. Answers the number deleted.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == 'running|' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Connection behaviour of a [`RedisStore`].
///
/// The defaults fail fast: when Redis is down an operation answers
/// [`StoreError::Unavailable`] within about a second or two, and the caller backs off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStoreConfig {
    /// How long one connection attempt may take.
    pub connection_timeout: Duration,
    /// How long one command may wait for its reply.
    pub response_timeout: Duration,
    /// Connection attempts after the first, with exponential backoff, before an operation
    /// fails. A later operation starts a new round.
    pub reconnect_retries: usize,
    /// The first reconnect delay (jittered, doubling).
    pub reconnect_min_delay: Duration,
    /// The longest reconnect delay.
    pub reconnect_max_delay: Duration,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        RedisStoreConfig {
            connection_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            reconnect_retries: 2,
            reconnect_min_delay: Duration::from_millis(50),
            reconnect_max_delay: Duration::from_secs(1),
        }
    }
}

/// The scheme of a Redis Cluster's URL: `redis-cluster://[user:password@]host:port[,host:port…]`.
pub const CLUSTER_SCHEME: &str = "redis-cluster://";

/// One server's connection, or a cluster's (which routes each key to its slot's node).
#[derive(Clone)]
enum Connection {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Server(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Server(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}

/// The seed nodes of a cluster URL, each a `redis://` URL with the URL's credentials.
fn cluster_nodes(url: &str) -> Result<Vec<String>, StoreError> {
    let rest = url
        .strip_prefix(CLUSTER_SCHEME)
        .ok_or_else(|| StoreError::Config(format!("not a {CLUSTER_SCHEME} URL")))?;
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (Some(credentials), hosts),
        None => (None, rest),
    };
    hosts
        .trim_end_matches('/')
        .split(',')
        .map(|host| match (host, credentials) {
            ("", _) => Err(()),
            (host, _) if host.contains('/') => Err(()),
            (host, Some(credentials)) => Ok(format!("redis://{credentials}@{host}")),
            (host, None) => Ok(format!("redis://{host}")),
        })
        .collect::<Result<_, ()>>()
        .map_err(|()| {
            StoreError::Config(format!(
                "a Redis Cluster URL names its seed nodes: {CLUSTER_SCHEME}HOST:PORT[,HOST:PORT…] (no database)"
            ))
        })
}

/// Idempotency claims in Redis, shared by every worker that uses the same URL and prefix.
///
/// Cloning is cheap and shares the connection. Commands are multiplexed over one connection
/// (per node, on a cluster) that reconnects by itself after Redis comes back.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
    claim_command: ClaimCommand,
}

/// How a [`RedisStore`] claims a key; both answer exactly the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaimCommand {
    /// `SET … NX PX … GET` (Redis ≥ 7.0), the script only for a take-over.
    SetNxGet,
    /// The claim script every time (Redis before 7.0, or a version `INFO` does not tell).
    Script,
}

impl ClaimCommand {
    /// The command every server answering `INFO server` with `info` runs: one server's text,
    /// or a cluster's map of node → text (the script when any node is older or unclear).
    fn for_servers(info: &Value) -> ClaimCommand {
        let native = |value: &Value| {
            String::from_redis_value_ref(value)
                .is_ok_and(|info| ClaimCommand::for_server(&info) == ClaimCommand::SetNxGet)
        };
        let every_node_native = match info {
            Value::Map(nodes) => !nodes.is_empty() && nodes.iter().all(|(_, info)| native(info)),
            one => native(one),
        };
        if every_node_native {
            ClaimCommand::SetNxGet
        } else {
            ClaimCommand::Script
        }
    }

    /// The command for a server whose `INFO server` section is `info`.
    fn for_server(info: &str) -> ClaimCommand {
        let version = info
            .lines()
            .find_map(|line| line.trim_end().strip_prefix("redis_version:"));
        let major = version
            .and_then(|v| v.split('.').next())
            .and_then(|major| major.parse::<u32>().ok());
        match major {
            Some(major) if major >= 7 => ClaimCommand::SetNxGet,
            _ => ClaimCommand::Script,
        }
    }
}

struct Scripts {
    claim: Script,
    complete: Script,
    release: Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`) with the default
    /// [`RedisStoreConfig`]; keys are namespaced under `key_prefix`.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, key_prefix, RedisStoreConfig::default()).await
    }

    /// Connects to `url` with `config`. Fails with [`StoreError::Config`] on an invalid URL and
    /// [`StoreError::Unavailable`] when Redis cannot be reached.
    pub async fn connect_with(
        url: &str,
        key_prefix: &str,
        config: RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        let mut conn = if url.starts_with(CLUSTER_SCHEME) {
            let client = ClusterClientBuilder::new(cluster_nodes(url)?)
                .connection_timeout(config.connection_timeout)
                .response_timeout(config.response_timeout)
                .retries(u32::try_from(config.reconnect_retries).unwrap_or(u32::MAX))
                .min_retry_wait(duration_millis(config.reconnect_min_delay))
                .max_retry_wait(duration_millis(config.reconnect_max_delay))
                .build()
                .map_err(|e| StoreError::Config(format!("invalid Redis Cluster URL: {e}")))?;
            Connection::Cluster(client.get_async_connection().await.map_err(store_error)?)
        } else {
            let client = ::redis::Client::open(url)
                .map_err(|e| StoreError::Config(format!("invalid Redis URL: {e}")))?;
            let manager_config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(config.connection_timeout))
                .set_response_timeout(Some(config.response_timeout))
                .set_number_of_retries(config.reconnect_retries)
                .set_min_delay(config.reconnect_min_delay)
                .set_max_delay(config.reconnect_max_delay);
            Connection::Server(
                ConnectionManager::new_with_config(client, manager_config)
                    .await
                    .map_err(store_error)?,
            )
        };
        // Once, at connect: a server replaced later by an older one under the same URL would
        // answer the native claim with a syntax error (a Protocol error, never a wrong answer).
        // A cluster answers per node: the oldest decides.
        let info: Result<Value, RedisError> = ::redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await;
        let claim_command = match info {
            Ok(info) => ClaimCommand::for_servers(&info),
            Err(e) => {
                let error = store_error(e);
                if error.is_transient() {
                    return Err(error);
                }
                // A proxy or an ACL that refuses INFO: the script works on every version.
                ClaimCommand::Script
            }
        };
        Ok(RedisStore {
            conn,
            prefix: key_prefix.into(),
            scripts: Arc::new(Scripts {
                claim: Script::new(CLAIM),
                complete: Script::new(COMPLETE),
                release: Script::new(RELEASE),
            }),
            claim_command,
        })
    }

    /// The Redis key that holds `key`'s claim.
    pub fn redis_key(&self, key: &ClaimKey) -> String {
        // One allocation per key, not one per part: a claim and a completion per execution.
        let mut out =
            String::with_capacity(self.prefix.len() + key.state_machine.len() + key.key.len() + 2);
        out.push_str(&self.prefix);
        out.push(':');
        escape_into(&key.state_machine, &mut out);
        out.push(':');
        escape_into(&key.key, &mut out);
        out
    }
}

impl RedisStore {
    /// The claim as one script: every row of the module table in one atomic step.
    async fn claim_by_script(
        &self,
        redis_key: &str,
        record: &str,
        running_ttl: Duration,
    ) -> Result<Claim, StoreError> {
        let (code, current): (i64, String) = self
            .eval(&self.scripts.claim, redis_key, |cmd| {
                cmd.arg(record).arg(ttl_millis(running_ttl));
            })
            .await?;
        match code {
            0 => Ok(Claim::Claimed),
            1 => Ok(Claim::TakenOver),
            2 => parse_value(&current).map(Claim::Duplicate),
            other => Err(StoreError::Protocol(format!(
                "claim script answered {other}"
            ))),
        }
    }

    /// Runs `script` by `EVALSHA` on `key` with the arguments `args` adds, loading it again on
    /// `NOSCRIPT` (after a Redis restart). The command is built once, in place:
    /// `Script::invoke_async` first copies keys and arguments into vectors of vectors, about
    /// ten allocations per call on the path every execution takes twice.
    async fn eval<T: FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: impl FnOnce(&mut Cmd),
    ) -> Result<T, StoreError> {
        let mut cmd = ::redis::cmd("EVALSHA");
        cmd.arg(script.get_hash()).arg(1).arg(key);
        args(&mut cmd);
        let mut conn = self.conn.clone();
        match cmd.query_async(&mut conn).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                script.load_async(&mut conn).await.map_err(store_error)?;
                cmd.query_async(&mut conn).await.map_err(store_error)
            }
            answer => answer.map_err(store_error),
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl IdempotencyStore for RedisStore {
    fn claim<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
        running_ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let redis_key = self.redis_key(key);
            let record = encode_record(record);
            if self.claim_command == ClaimCommand::Script {
                return self.claim_by_script(&redis_key, &record, running_ttl).await;
            }
            let mine = running_value(&record);
            let mut conn = self.conn.clone();
            let held: Option<String> = ::redis::cmd("SET")
                .arg(&redis_key)
                .arg(&mine)
                .arg("NX")
                .arg("PX")
                .arg(ttl_millis(running_ttl))
                .arg("GET")
                .query_async(&mut conn)
                .await
                .map_err(store_error)?;
            match held {
                None => Ok(Claim::Claimed),
                // This record's own claim: whether it still holds when the TTL is refreshed
                // is the script's to decide, atomically (it may have expired since).
                Some(held) if held == mine => {
                    self.claim_by_script(&redis_key, &record, running_ttl).await
                }
                Some(held) => parse_value(&held).map(Claim::Duplicate),
            }
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
        execution_arn: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let _written: i64 = self
                .eval(&self.scripts.complete, &self.redis_key(key), |cmd| {
                    cmd.arg(encode_record(record))
                        .arg(execution_arn)
                        .arg(ttl_millis(window));
                })
                .await?;
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let _deleted: i64 = self
                .eval(&self.scripts.release, &self.redis_key(key), |cmd| {
                    cmd.arg(encode_record(record));
                })
                .await?;
            Ok(())
        })
    }
}

/// Transient failures (the connection, timeouts, a loading or failing-over server) are
/// `Unavailable`; everything else the server or the decoder says is `Protocol`.
fn store_error(e: RedisError) -> StoreError {
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::AuthenticationFailed
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        );
    if transient {
        StoreError::Unavailable(e.to_string())
    } else if e.kind() == ErrorKind::InvalidClientConfig {
        StoreError::Config(e.to_string())
    } else {
        StoreError::Protocol(e.to_string())
    }
}

fn duration_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ttl_millis(d: Duration) -> u64 {
    let nanos = effective_ttl(d).as_nanos();
    u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Escapes `%`, `:` and `|`, the characters the layout uses as separators.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(s, &mut out);
    out
}

/// [`escape`], appended to `out`.
fn escape_into(s: &str, out: &mut String) {
    if !s.contains(['%', ':', '|']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            '|' => out.push_str("%7C"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "25" => '%',
            "3A" => ':',
            "7C" => '|',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn encode_record(r: &RecordId) -> String {
    format!("{}|{}|{}", escape(&r.topic), r.partition, r.offset)
}

/// The value of a claim running by `record` (encoded), as the claim script writes it.
fn running_value(record: &str) -> String {
    let mut value = String::with_capacity("running|".len() + record.len());
    value.push_str("running|");
    value.push_str(record);
    value
}

/// Parses a claim value held by another record (or completed).
fn parse_value(raw: &str) -> Result<DuplicateOf, StoreError> {
    let malformed = || {
        let shown: String = raw.chars().take(200).collect();
        StoreError::Protocol(format!("malformed idempotency value {shown:?}"))
    };
    let mut parts = raw.splitn(5, '|');
    let state = parts.next().ok_or_else(malformed)?;
    let topic = parts.next().and_then(unescape).ok_or_else(malformed)?;
    let partition = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(malformed)?;
    let offset = parts
        .next()
        .and_then(|o| o.parse().ok())
        .ok_or_else(malformed)?;
    let record = RecordId {
        topic: topic.into(),
        partition,
        offset,
    };
    match (state, parts.next()) {
        ("running", None) => Ok(DuplicateOf::Running(record)),
        ("completed", Some(arn)) => Ok(DuplicateOf::Completed {
            record,
            execution_arn: arn.to_owned(),
        }),
        _ => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{conformance, StoreErrorKind};
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::time::Instant;

    const SKIP_ENV: &str = "QUICKSTEP_SKIP_REDIS";

    /// A real `redis-server` on 127.0.0.1 without persistence, killed on drop.
    struct RedisServer {
        child: Option<Child>,
        port: u16,
    }

    impl RedisServer {
        /// Whether `redis-server` is on PATH. Without it this panics with instructions, or
        /// answers false (the test skips) when `QUICKSTEP_SKIP_REDIS=1`.
        fn available() -> bool {
            let found = Command::new("redis-server")
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !found {
                if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
                    eprintln!("redis-server not found; skipping because {SKIP_ENV}=1");
                    return false;
                }
                panic!(
                    "redis-server not found on PATH: the Redis idempotency tests need a real \
                     server (apt-get install -y redis-server), or set {SKIP_ENV}=1 to skip them"
                );
            }
            true
        }

        /// Starts a server on a free port (None: skipped, see [`RedisServer::available`]).
        fn start() -> Option<Self> {
            if !Self::available() {
                return None;
            }
            let mut last = String::new();
            for _ in 0..5 {
                match Self::start_on(free_port()) {
                    Ok(server) => return Some(server),
                    Err(e) => last = e,
                }
            }
            panic!("could not start redis-server: {last}");
        }

        /// Starts a server on `port` (e.g. again, after [`RedisServer::kill`]).
        fn start_on(port: u16) -> Result<Self, String> {
            Self::start_in(port, &std::env::temp_dir(), &[])
        }

        /// Starts a server on `port` with its files in `dir` and `extra` arguments.
        fn start_in(port: u16, dir: &std::path::Path, extra: &[&str]) -> Result<Self, String> {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--loglevel", "warning"])
                .args(extra)
                .arg("--dir")
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("spawn redis-server: {e}"))?;
            let mut server = RedisServer {
                child: Some(child),
                port,
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if ping(port) {
                    return Ok(server);
                }
                if let Some(child) = server.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        server.child = None;
                        return Err(format!("redis-server on port {port} exited: {status}"));
                    }
                }
                if Instant::now() > deadline {
                    return Err(format!("redis-server on port {port} never answered PING"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/", self.port)
        }

        /// SIGKILL, as a crash would.
        fn kill(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            self.kill();
        }
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free port on 127.0.0.1")
    }

    fn ping(port: u16) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Fails fast so the outage test stays short.
    fn fast_config() -> RedisStoreConfig {
        RedisStoreConfig {
            connection_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_secs(1),
            reconnect_retries: 1,
            reconnect_min_delay: Duration::from_millis(20),
            reconnect_max_delay: Duration::from_millis(100),
        }
    }

    async fn store(server: &RedisServer) -> RedisStore {
        RedisStore::connect_with(&server.url(), "quickstep:idem", fast_config())
            .await
            .expect("connect to the test redis-server")
    }

    /// A store that claims by script alone, as on a server before Redis 7.0, under its own
    /// prefix (so it can share a server with [`store`]'s keys).
    async fn script_store(server: &RedisServer) -> RedisStore {
        let mut store = RedisStore::connect_with(&server.url(), "quickstep:script", fast_config())
            .await
            .expect("connect to the test redis-server");
        store.claim_command = ClaimCommand::Script;
        store
    }

    async fn raw(server: &RedisServer) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(server.url())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection")
    }

    fn key(k: &str) -> ClaimKey {
        ClaimKey::new("orders", k)
    }

    fn rec(offset: i64) -> RecordId {
        RecordId::new("quickstep.start", 0, offset)
    }

    const SEC: Duration = Duration::from_secs(1);

    /// Claims `key` for `record` every 10 ms until Claimed; answers how long that took.
    async fn claim_until_claimed(
        store: &RedisStore,
        key: &ClaimKey,
        record: &RecordId,
    ) -> Duration {
        let start = Instant::now();
        loop {
            match store.claim(key, record, SEC).await {
                Ok(Claim::Claimed) => return start.elapsed(),
                Ok(Claim::Duplicate(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
            assert!(start.elapsed() < 3 * SEC, "the claim never expired");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    macro_rules! conformance_tests {
        ($($name:ident),* $(,)?) => {$(
            /// Both claim commands, the native one and the script, answer alike.
            #[tokio::test]
            async fn $name() {
                let Some(server) = RedisServer::start() else { return };
                let native = store(&server).await;
                assert_eq!(native.claim_command, ClaimCommand::SetNxGet, "redis-server ≥ 7.0");
                conformance::$name(&native).await;
                conformance::$name(&script_store(&server).await).await;
            }
        )*};
    }

    conformance_tests!(
        claim_transitions,
        complete_then_claims_are_duplicates,
        complete_when_absent,
        complete_by_other_record_leaves_holder,
        release_transitions,
        scopes_are_independent,
        record_ids_round_trip,
    );

    /// Four workers' connections, 100 claims of one key between them: two claim natively,
    /// two by script (a fleet whose servers' versions were read differently still agrees).
    async fn four_workers(server: &RedisServer) -> Vec<Arc<dyn IdempotencyStore>> {
        let mut stores: Vec<Arc<dyn IdempotencyStore>> = Vec::new();
        for i in 0..4 {
            let mut store = store(server).await;
            if i % 2 == 1 {
                store.claim_command = ClaimCommand::Script;
            }
            stores.push(Arc::new(store));
        }
        stores
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_one_winner() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        conformance::concurrent_claims_one_winner(four_workers(&server).await, 100).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_same_record() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        conformance::concurrent_same_record(four_workers(&server).await, 100).await;
    }

    #[tokio::test]
    async fn wire_layout() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let store = store(&server).await;
        let mut raw = raw(&server).await;
        let k = ClaimKey::new("orders:eu", "k|1%");
        let r = RecordId::new("quickstep.start", 3, 17);
        let redis_key = "quickstep:idem:orders%3Aeu:k%7C1%25";
        assert_eq!(store.redis_key(&k), redis_key);

        store.claim(&k, &r, 30 * SEC).await.unwrap();
        let value: Option<String> = ::redis::cmd("GET")
            .arg(redis_key)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some("running|quickstep.start|3|17"));
        let pttl: i64 = ::redis::cmd("PTTL")
            .arg(redis_key)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!((29_000..=30_000).contains(&pttl), "pttl {pttl}");

        store.complete(&k, &r, "arn:x", 3600 * SEC).await.unwrap();
        let value: Option<String> = ::redis::cmd("GET")
            .arg(redis_key)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(
            value.as_deref(),
            Some("completed|quickstep.start|3|17|arn:x")
        );
        let pttl: i64 = ::redis::cmd("PTTL")
            .arg(redis_key)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!((3_599_000..=3_600_000).contains(&pttl), "pttl {pttl}");
    }

    #[tokio::test]
    async fn running_claim_expires() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let store = store(&server).await;
        let k = key("k");
        let ttl = Duration::from_millis(150);
        assert_eq!(store.claim(&k, &rec(1), ttl).await, Ok(Claim::Claimed));
        assert_eq!(
            store.claim(&k, &rec(2), ttl).await,
            Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
        );
        let took = claim_until_claimed(&store, &k, &rec(2)).await;
        assert!(took >= Duration::from_millis(100), "expired after {took:?}");
    }

    #[tokio::test]
    async fn take_over_refreshes_the_ttl() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let store = store(&server).await;
        let k = key("k");
        let ttl = Duration::from_millis(300);
        assert_eq!(store.claim(&k, &rec(1), ttl).await, Ok(Claim::Claimed));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(store.claim(&k, &rec(1), ttl).await, Ok(Claim::TakenOver));
        tokio::time::sleep(Duration::from_millis(200)).await;
        // 400 ms after the first claim, 200 ms after the refresh: still held.
        assert_eq!(
            store.claim(&k, &rec(2), ttl).await,
            Ok(Claim::Duplicate(DuplicateOf::Running(rec(1))))
        );
        claim_until_claimed(&store, &k, &rec(2)).await;
    }

    #[tokio::test]
    async fn completed_expires_after_the_window() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let store = store(&server).await;
        let k = key("k");
        assert_eq!(store.claim(&k, &rec(1), 60 * SEC).await, Ok(Claim::Claimed));
        store
            .complete(&k, &rec(1), "arn:1", Duration::from_millis(150))
            .await
            .unwrap();
        assert!(matches!(
            store.claim(&k, &rec(2), SEC).await,
            Ok(Claim::Duplicate(DuplicateOf::Completed { .. }))
        ));
        claim_until_claimed(&store, &k, &rec(2)).await;
    }

    #[tokio::test]
    async fn complete_after_expiry_and_reclaim_leaves_new_holder() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let store = store(&server).await;
        let k = key("k");
        let ttl = Duration::from_millis(100);
        assert_eq!(store.claim(&k, &rec(1), ttl).await, Ok(Claim::Claimed));
        claim_until_claimed(&store, &k, &rec(2)).await;
        store
            .complete(&k, &rec(1), "arn:1", 60 * SEC)
            .await
            .unwrap();
        assert_eq!(store.claim(&k, &rec(2), SEC).await, Ok(Claim::TakenOver));
    }

    #[tokio::test]
    async fn foreign_values_are_protocol_errors() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let store = store(&server).await;
        let mut raw = raw(&server).await;
        let garbage = key("garbage");
        let list = key("list");
        let () = ::redis::cmd("SET")
            .arg(store.redis_key(&garbage))
            .arg("running|t|not-a-partition|1")
            .query_async(&mut raw)
            .await
            .unwrap();
        let _: i64 = ::redis::cmd("LPUSH")
            .arg(store.redis_key(&list))
            .arg("x")
            .query_async(&mut raw)
            .await
            .unwrap();
        let err = store.claim(&garbage, &rec(1), SEC).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Protocol, "{err}");
        let err = store.claim(&list, &rec(1), SEC).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Protocol, "{err}");
        assert!(err.to_string().contains("WRONGTYPE"), "{err}");
        // The connection is still good.
        assert_eq!(
            store.claim(&key("ok"), &rec(1), SEC).await,
            Ok(Claim::Claimed)
        );
    }

    /// `NOSCRIPT` (a flushed script cache, as after a restart) loads each script again.
    #[tokio::test]
    async fn flushed_scripts_load_again() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let mut raw = raw(&server).await;
        for store in [store(&server).await, script_store(&server).await] {
            let k = key("k");
            let flush = || async {
                let () = ::redis::cmd("SCRIPT")
                    .arg("FLUSH")
                    .query_async(&mut raw.clone())
                    .await
                    .unwrap();
            };
            assert_eq!(store.claim(&k, &rec(1), SEC).await, Ok(Claim::Claimed));
            flush().await;
            // The take-over runs the claim script, natively claimed or not.
            assert_eq!(store.claim(&k, &rec(1), SEC).await, Ok(Claim::TakenOver));
            flush().await;
            store.release(&k, &rec(1)).await.unwrap();
            assert_eq!(store.claim(&k, &rec(2), SEC).await, Ok(Claim::Claimed));
            flush().await;
            store.complete(&k, &rec(2), "arn:2", SEC).await.unwrap();
            assert!(matches!(
                store.claim(&k, &rec(3), SEC).await,
                Ok(Claim::Duplicate(DuplicateOf::Completed { .. }))
            ));
            let () = ::redis::cmd("FLUSHALL")
                .query_async(&mut raw)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn invalid_url_is_a_config_error() {
        let err = RedisStore::connect("not a url", "p").await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Config, "{err}");
    }

    #[tokio::test]
    async fn nothing_listening_is_unavailable() {
        let port = free_port();
        for url in [
            format!("redis://127.0.0.1:{port}/"),
            format!("redis-cluster://127.0.0.1:{port}"),
        ] {
            let err = RedisStore::connect_with(&url, "p", fast_config())
                .await
                .unwrap_err();
            assert!(err.is_transient(), "{url}: {err}");
        }
        let url = format!("redis://127.0.0.1:{port}/");
        let err = RedisStore::connect_with(&url, "p", fast_config())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    }

    #[tokio::test]
    async fn redis_killed_then_restarted() {
        let Some(mut server) = RedisServer::start() else {
            return;
        };
        let store = store(&server).await;
        let k = key("k");
        assert_eq!(store.claim(&k, &rec(1), 60 * SEC).await, Ok(Claim::Claimed));

        server.kill();
        let started = Instant::now();
        for _ in 0..3 {
            let err = store.claim(&k, &rec(1), 60 * SEC).await.unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
            let err = store
                .complete(&k, &rec(1), "arn:1", 60 * SEC)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
        }
        assert!(
            started.elapsed() < 5 * SEC,
            "slow failures: {:?}",
            started.elapsed()
        );

        // Same port, fresh server (no persistence: the claim is gone, scripts are not loaded).
        let _server = RedisServer::start_on(server.port).expect("restart redis-server");
        let started = Instant::now();
        let answer = loop {
            match store.claim(&k, &rec(2), 60 * SEC).await {
                Ok(answer) => break answer,
                Err(e) => {
                    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}");
                    assert!(started.elapsed() < 5 * SEC, "never reconnected: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        assert_eq!(answer, Claim::Claimed);
        store
            .complete(&k, &rec(2), "arn:2", 60 * SEC)
            .await
            .unwrap();
        assert!(matches!(
            store.claim(&k, &rec(3), SEC).await,
            Ok(Claim::Duplicate(DuplicateOf::Completed { .. }))
        ));
    }

    #[test]
    fn the_claim_command_follows_the_server_version() {
        let info = |version: &str| {
            format!("# Server\r\nredis_version:{version}\r\nredis_mode:standalone\r\n")
        };
        assert_eq!(
            ClaimCommand::for_server(&info("7.0.15")),
            ClaimCommand::SetNxGet
        );
        assert_eq!(
            ClaimCommand::for_server(&info("7.2.4")),
            ClaimCommand::SetNxGet
        );
        assert_eq!(
            ClaimCommand::for_server(&info("8.0.0")),
            ClaimCommand::SetNxGet
        );
        assert_eq!(
            ClaimCommand::for_server(&info("10.1.2")),
            ClaimCommand::SetNxGet
        );
        assert_eq!(
            ClaimCommand::for_server(&info("6.2.14")),
            ClaimCommand::Script
        );
        assert_eq!(
            ClaimCommand::for_server(&info("255.255.255")),
            ClaimCommand::SetNxGet
        );
        assert_eq!(ClaimCommand::for_server(&info("x.y")), ClaimCommand::Script);
        assert_eq!(
            ClaimCommand::for_server("# Server\r\n"),
            ClaimCommand::Script
        );
        assert_eq!(ClaimCommand::for_server(""), ClaimCommand::Script);
    }

    #[test]
    fn a_cluster_uses_the_script_unless_every_node_is_new_enough() {
        let info = |version: &str| {
            Value::BulkString(format!("# Server\r\nredis_version:{version}\r\n").into_bytes())
        };
        let nodes = |versions: &[&str]| {
            Value::Map(
                versions
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        (
                            Value::BulkString(format!("10.0.0.{i}:6379").into()),
                            info(v),
                        )
                    })
                    .collect(),
            )
        };
        assert_eq!(
            ClaimCommand::for_servers(&info("7.0.15")),
            ClaimCommand::SetNxGet
        );
        assert_eq!(
            ClaimCommand::for_servers(&info("6.2.14")),
            ClaimCommand::Script
        );
        assert_eq!(
            ClaimCommand::for_servers(&nodes(&["7.0.15", "7.2.4", "8.0.0"])),
            ClaimCommand::SetNxGet
        );
        assert_eq!(
            ClaimCommand::for_servers(&nodes(&["7.0.15", "6.2.14", "7.2.4"])),
            ClaimCommand::Script,
            "one older node"
        );
        assert_eq!(ClaimCommand::for_servers(&nodes(&[])), ClaimCommand::Script);
        assert_eq!(ClaimCommand::for_servers(&Value::Nil), ClaimCommand::Script);
    }

    #[test]
    fn cluster_urls_name_their_seed_nodes() {
        assert_eq!(
            cluster_nodes("redis-cluster://10.0.0.1:7000,10.0.0.2:7001").expect("parses"),
            ["redis://10.0.0.1:7000", "redis://10.0.0.2:7001"]
        );
        assert_eq!(
            cluster_nodes("redis-cluster://user:p%40ss@a:7000,b:7001/").expect("parses"),
            ["redis://user:p%40ss@a:7000", "redis://user:p%40ss@b:7001"],
            "the credentials go to every node"
        );
        for bad in [
            "redis-cluster://",
            "redis-cluster://a:7000,,b:7001",
            "redis-cluster://a:7000/2",
            "redis://a:7000",
        ] {
            let error = cluster_nodes(bad).expect_err(bad);
            assert_eq!(error.kind(), StoreErrorKind::Config, "{bad}: {error}");
        }
    }

    /// Three `redis-server --cluster-enabled yes` primaries on 127.0.0.1, the 16,384 slots
    /// spread by `redis-cli --cluster create`; killed on drop.
    struct RedisCluster {
        nodes: Vec<RedisServer>,
        dir: std::path::PathBuf,
    }

    impl RedisCluster {
        fn start() -> Option<Self> {
            if !RedisServer::available() {
                return None;
            }
            let dir = std::env::temp_dir().join(format!(
                "quickstep-redis-cluster-{}-{}",
                std::process::id(),
                free_port()
            ));
            std::fs::create_dir_all(&dir).expect("cluster dir");
            let mut nodes = Vec::new();
            while nodes.len() < 3 {
                // The cluster bus listens on port + 10,000: both must be free, under 65,536.
                let port = free_port();
                if port > 55_000 || TcpListener::bind(("127.0.0.1", port + 10_000)).is_err() {
                    continue;
                }
                let config = format!("nodes-{port}.conf");
                let extra = ["--cluster-enabled", "yes", "--cluster-config-file", &config];
                nodes.push(RedisServer::start_in(port, &dir, &extra).expect("cluster node"));
            }
            let created = Command::new("redis-cli")
                .args(["--cluster", "create"])
                .args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .stdin(Stdio::null())
                .output()
                .expect("redis-cli (installed with redis-server)");
            assert!(
                created.status.success(),
                "redis-cli --cluster create: {}",
                String::from_utf8_lossy(&created.stdout)
            );
            let cluster = RedisCluster { nodes, dir };
            // Every node must see every slot served before a client asks.
            let deadline = Instant::now() + Duration::from_secs(20);
            while !cluster.nodes.iter().all(|n| cluster_ok(n.port)) {
                assert!(
                    Instant::now() < deadline,
                    "the cluster never reached state ok"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Some(cluster)
        }

        fn url(&self) -> String {
            // Two seeds: the client learns the third from them.
            format!(
                "redis-cluster://127.0.0.1:{},127.0.0.1:{}",
                self.nodes[0].port, self.nodes[1].port
            )
        }
    }

    impl Drop for RedisCluster {
        fn drop(&mut self) {
            self.nodes.clear();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn cluster_ok(port: u16) -> bool {
        Command::new("redis-cli")
            .args(["-p", &port.to_string(), "cluster", "info"])
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
    }

    fn dbsize(port: u16) -> u64 {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "dbsize"])
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a count")
    }

    /// On a Redis Cluster: the conformance suite both ways, keys spread over every shard,
    /// and a script flushed on one node loads again there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_redis_cluster_behaves_as_one_server() {
        let Some(cluster) = RedisCluster::start() else {
            return;
        };
        let native = RedisStore::connect_with(&cluster.url(), "quickstep:idem", fast_config())
            .await
            .expect("connects to the cluster");
        assert!(matches!(native.conn, Connection::Cluster(_)));
        assert_eq!(
            native.claim_command,
            ClaimCommand::SetNxGet,
            "every node ≥ 7.0"
        );
        let mut script =
            RedisStore::connect_with(&cluster.url(), "quickstep:script", fast_config())
                .await
                .expect("connects to the cluster");
        script.claim_command = ClaimCommand::Script;
        for store in [&native, &script] {
            conformance::claim_transitions(store).await;
            conformance::complete_then_claims_are_duplicates(store).await;
            conformance::complete_when_absent(store).await;
            conformance::complete_by_other_record_leaves_holder(store).await;
            conformance::release_transitions(store).await;
            conformance::scopes_are_independent(store).await;
            conformance::record_ids_round_trip(store).await;
        }
        // Three workers under one prefix, one of them claiming by script.
        let mut by_script = native.clone();
        by_script.claim_command = ClaimCommand::Script;
        let fleet: Vec<Arc<dyn IdempotencyStore>> = vec![
            Arc::new(native.clone()),
            Arc::new(by_script),
            Arc::new(native.clone()),
        ];
        conformance::concurrent_claims_one_winner(fleet, 50).await;
        // 300 keys: each shard holds some (a slot per key, 5,461 slots a node).
        for i in 0..300 {
            let claim = native
                .claim(&key(&format!("spread-{i}")), &rec(i), 10 * SEC)
                .await
                .expect("claims");
            assert_eq!(claim, Claim::Claimed);
        }
        for node in &cluster.nodes {
            assert!(dbsize(node.port) > 20, "node {} holds its share", node.port);
        }
        // Scripts flushed everywhere (a restarted cluster): completion loads them again.
        for node in &cluster.nodes {
            let flushed = Command::new("redis-cli")
                .args(["-p", &node.port.to_string(), "script", "flush"])
                .output()
                .expect("redis-cli");
            assert!(flushed.status.success());
        }
        for i in 0..30 {
            native
                .complete(&key(&format!("spread-{i}")), &rec(i), "arn:x", 60 * SEC)
                .await
                .expect("completes after the flush");
            let again = native
                .claim(&key(&format!("spread-{i}")), &rec(1_000 + i), 10 * SEC)
                .await
                .expect("claims");
            assert!(matches!(again, Claim::Duplicate(_)), "{again:?}");
        }
    }

    #[test]
    fn escaping_round_trips() {
        for s in ["", "plain", "a:b|c%d", "%3A", "%%", "é|:"] {
            assert_eq!(unescape(&escape(s)).as_deref(), Some(s));
            assert!(!escape(s).contains([':', '|']));
        }
        assert_eq!(unescape("%zz"), None);
        assert_eq!(unescape("%3"), None);
        assert_eq!(unescape("%"), None);
    }

    #[test]
    fn values_parse() {
        assert_eq!(
            parse_value("running|a%7Cb|-1|9223372036854775807"),
            Ok(DuplicateOf::Running(RecordId::new("a|b", -1, i64::MAX)))
        );
        assert_eq!(
            parse_value("completed|t|0|5|arn:x|y"),
            Ok(DuplicateOf::Completed {
                record: RecordId::new("t", 0, 5),
                execution_arn: "arn:x|y".to_owned(),
            })
        );
        for bad in [
            "",
            "running",
            "running|t|0",
            "running|t|0|5|extra",
            "completed|t|0|5",
            "paused|t|0|5",
            "running|t|x|5",
            "running|t|0|99999999999999999999",
            "running|t%|0|5",
        ] {
            let err = parse_value(bad).unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Protocol, "{bad:?}");
        }
    }

    #[test]
    fn ttls_are_whole_milliseconds_rounded_up() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(SEC), 1000);
        assert_eq!(ttl_millis(Duration::MAX), 315_360_000_000);
    }
}

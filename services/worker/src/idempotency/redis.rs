//! The shared store, for many workers: Redis, one atomic Lua script per operation.
//!
//! Layout (other tools may read it, so it is part of the contract):
//! - key: `<prefix>:<state_machine>:<key>`, both parts escaped (`%` → `%25`, `:` → `%3A`,
//!   `|` → `%7C`), so any key bytes give a distinct Redis key;
//! - value: `running|<topic>|<partition>|<offset>` or
//!   `completed|<topic>|<partition>|<offset>|<execution arn>`, the topic escaped likewise and
//!   the ARN last and verbatim;
//! - TTL: `PX` milliseconds (running TTL, then the idempotency window from completion).
//!
//! Scripts run by `EVALSHA`, loaded again on `NOSCRIPT` (e.g. after a Redis restart).

use super::{effective_ttl, Claim, ClaimKey, DuplicateOf, IdempotencyStore, RecordId, StoreError};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, RedisError, Script, ServerErrorKind};
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

/// Idempotency claims in Redis, shared by every worker that uses the same URL and prefix.
///
/// Cloning is cheap and shares the connection. Commands are multiplexed over one connection
/// that reconnects by itself after Redis comes back.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
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
        let client = ::redis::Client::open(url)
            .map_err(|e| StoreError::Config(format!("invalid Redis URL: {e}")))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(config.reconnect_retries)
            .set_min_delay(config.reconnect_min_delay)
            .set_max_delay(config.reconnect_max_delay);
        let conn = ConnectionManager::new_with_config(client, manager_config)
            .await
            .map_err(store_error)?;
        Ok(RedisStore {
            conn,
            prefix: key_prefix.into(),
            scripts: Arc::new(Scripts {
                claim: Script::new(CLAIM),
                complete: Script::new(COMPLETE),
                release: Script::new(RELEASE),
            }),
        })
    }

    /// The Redis key that holds `key`'s claim.
    pub fn redis_key(&self, key: &ClaimKey) -> String {
        format!(
            "{}:{}:{}",
            self.prefix,
            escape(&key.state_machine),
            escape(&key.key)
        )
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
            let mut conn = self.conn.clone();
            let (code, current): (i64, String) = self
                .scripts
                .claim
                .key(self.redis_key(key))
                .arg(encode_record(record))
                .arg(ttl_millis(running_ttl))
                .invoke_async(&mut conn)
                .await
                .map_err(store_error)?;
            match code {
                0 => Ok(Claim::Claimed),
                1 => Ok(Claim::TakenOver),
                2 => parse_value(&current).map(Claim::Duplicate),
                other => Err(StoreError::Protocol(format!(
                    "claim script answered {other}"
                ))),
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
            let mut conn = self.conn.clone();
            let _written: i64 = self
                .scripts
                .complete
                .key(self.redis_key(key))
                .arg(encode_record(record))
                .arg(execution_arn)
                .arg(ttl_millis(window))
                .invoke_async(&mut conn)
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a ClaimKey,
        record: &'a RecordId,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _deleted: i64 = self
                .scripts
                .release
                .key(self.redis_key(key))
                .arg(encode_record(record))
                .invoke_async(&mut conn)
                .await
                .map_err(store_error)?;
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

fn ttl_millis(d: Duration) -> u64 {
    let nanos = effective_ttl(d).as_nanos();
    u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Escapes `%`, `:` and `|`, the characters the layout uses as separators.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            '|' => out.push_str("%7C"),
            c => out.push(c),
        }
    }
    out
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
        topic,
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

//! The database: executions and their events in SQLite, upserted in batches, listed newest
//! first by keyset pagination over indexes, and trimmed by age and by size. One connection
//! behind a mutex: writes come in batches from one ingest task, reads are index look-ups.

use crate::record::{name_of, state_machine_of, EventRecord, ResultRecord, SourceRef, Status};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, a corrupt file, …).
    #[error("execution store: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// How much the store keeps.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Executions that started longer ago than this are deleted with their events.
    pub max_age: Option<Duration>,
    /// When the data outgrows this many bytes, the oldest executions go first.
    pub max_bytes: Option<u64>,
}

/// One record to apply.
#[derive(Debug, Clone)]
pub enum Record {
    /// An execution ended.
    Result(ResultRecord),
    /// An execution's history event.
    Event(EventRecord),
}

/// An execution as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Its ARN.
    pub execution_arn: String,
    /// Its state machine's ARN.
    pub state_machine_arn: String,
    /// Its name.
    pub name: String,
    /// RUNNING until its result arrives.
    pub status: Status,
    /// Epoch ms.
    pub start_ms: i64,
    /// Epoch ms, once ended.
    pub stop_ms: Option<i64>,
    /// Output JSON text.
    pub output: Option<String>,
    /// Error name.
    pub error: Option<String>,
    /// Error cause.
    pub cause: Option<String>,
    /// Billed duration, ms.
    pub billed_duration_ms: Option<i64>,
    /// Billed memory, MB.
    pub billed_memory_mb: Option<i64>,
    /// The idempotency key.
    pub idempotency_key: Option<String>,
    /// The start record.
    pub source: Option<SourceRef>,
}

/// One stored history event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// 1-based id.
    pub id: i64,
    /// The event it follows.
    pub previous_event_id: i64,
    /// Epoch ms.
    pub timestamp_ms: i64,
    /// AWS's type name.
    pub event_type: String,
    /// JSON text of the details.
    pub details: String,
}

/// What a list selects; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Executions of this state machine.
    pub state_machine_arn: Option<String>,
    /// In this status.
    pub status: Option<Status>,
    /// Started at or after (epoch ms).
    pub started_after_ms: Option<i64>,
    /// Started before (epoch ms).
    pub started_before_ms: Option<i64>,
    /// Named exactly this.
    pub name: Option<String>,
    /// Run under this idempotency key.
    pub idempotency_key: Option<String>,
}

/// Where the next page starts: after this (start, row) in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last row's start, epoch ms.
    pub start_ms: i64,
    /// The last row's id.
    pub row: i64,
}

impl Cursor {
    /// The opaque text of a page token.
    pub fn to_token(self) -> String {
        format!("q1.{}.{}", self.start_ms, self.row)
    }

    /// Reads a page token; None for anything this store did not issue.
    pub fn from_token(token: &str) -> Option<Cursor> {
        let mut parts = token.strip_prefix("q1.")?.splitn(2, '.');
        Some(Cursor {
            start_ms: parts.next()?.parse().ok()?,
            row: parts.next()?.parse().ok()?,
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Newest first.
    pub executions: Vec<Execution>,
    /// Present when more may follow.
    pub next: Option<Cursor>,
}

/// Counts for metrics and the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Executions held.
    pub executions: u64,
    /// Events held.
    pub events: u64,
    /// Bytes of live pages.
    pub bytes: u64,
}

/// The schema. Every execution is one row. Its look-ups by ARN, name and idempotency key go
/// through one index of 64-bit hashes, `executions_by_lookup`, rather than three indexes of
/// text. Those keys arrive in random order (the gateway names executions with random UUIDs),
/// so each insert lands at a random page of its index, and every page a batch touches is
/// copied into the rollback journal: with three 60–90-byte text indexes that made a result
/// cost three times as much as with names in arrival order (`store-bench --scrambled-names`).
/// The lookup hash is that of the name the ARN carries ([`lookup_text`]): an ARN look-up
/// finds it from the ARN, a name look-up from the name, and an idempotency-key look-up from
/// the key, since a start record's key is its execution's name unless the sender chose
/// another. Only a name or key that differs from the ARN's name gets a hash of its own, in
/// an index that holds only those (`name_hash`, `key_hash`, NULL otherwise). A hash may
/// collide, so every look-up compares the text as well, and uniqueness of the ARN is kept
/// by [`Store::apply`] (the one writer) rather than by a UNIQUE index.
///
/// Newest-first pages read `(state_machine_arn, status, start_ms)` and `(status, start_ms)`
/// only: a page of every status is the merge of one ordered range per status
/// ([`list_query`]; SQLite merges them without sorting), so no index of a machine's or of
/// all executions by start time is kept up to date for every result.
const SCHEMA: &str = "
CREATE TABLE executions (
    id INTEGER PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    lookup_hash INTEGER NOT NULL,
    state_machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    name_hash INTEGER,
    status INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    stop_ms INTEGER,
    output TEXT,
    error TEXT,
    cause TEXT,
    billed_duration_ms INTEGER,
    billed_memory_mb INTEGER,
    idempotency_key TEXT,
    key_hash INTEGER,
    source_topic TEXT,
    source_partition INTEGER,
    source_offset INTEGER
);
CREATE INDEX executions_by_lookup ON executions (lookup_hash);
CREATE INDEX executions_by_machine_status ON executions (state_machine_arn, status, start_ms);
CREATE INDEX executions_by_status ON executions (status, start_ms);
CREATE INDEX executions_by_name ON executions (name_hash) WHERE name_hash IS NOT NULL;
CREATE INDEX executions_by_key ON executions (key_hash) WHERE key_hash IS NOT NULL;
CREATE TABLE events (
    execution_id INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    previous_event_id INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    type TEXT NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (execution_id, event_id)
) WITHOUT ROWID;
";

/// What an execution's lookup hash is taken of: the name in its Express ARN, or the whole
/// ARN when it is not one.
fn lookup_text(execution_arn: &str) -> &str {
    name_of(execution_arn).unwrap_or(execution_arn)
}

/// The hash of a name or key that differs from its ARN's name (`name_hash`, `key_hash`),
/// None when it is that name (the lookup hash finds it).
fn own_hash(text: &str, lookup: &str) -> Option<i64> {
    (text != lookup).then(|| text_hash(text))
}

fn text_hash(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash as i64
}

/// `status IN (…)` of every status, so a query walks `(status, start_ms)` a status at a time.
fn every_status() -> String {
    let codes: Vec<String> = Status::all().map(|s| s.code().to_string()).collect();
    format!("status IN ({})", codes.join(", "))
}

/// The start time `OFFSET ?1` executions from the oldest: the statuses' ranges of
/// `(status, start_ms)` merged in start order (see SCHEMA), with no sort.
fn nth_oldest_start() -> String {
    let arms: Vec<String> = Status::all()
        .map(|status| {
            format!(
                "SELECT start_ms FROM executions WHERE status = {}",
                status.code()
            )
        })
        .collect();
    format!(
        "{} ORDER BY start_ms LIMIT 1 OFFSET ?1",
        arms.join(" UNION ALL ")
    )
}

/// An execution's row id by its lookup hash and ARN.
const FIND_ROW: &str = "SELECT id FROM executions WHERE lookup_hash = ?1 AND execution_arn = ?2";

const COLUMNS: &str = "id, execution_arn, state_machine_arn, name, status, start_ms, stop_ms, output, error, cause, billed_duration_ms, billed_memory_mb, idempotency_key, source_topic, source_partition, source_offset";

/// The execution store.
pub struct Store {
    connection: Mutex<Connection>,
    retention: Retention,
}

impl Store {
    /// Opens a store: in memory when `path` is None, else a file that is emptied first — the
    /// store is a view of Kafka, rebuilt from the topics at every start.
    pub fn open(path: Option<&Path>, retention: Retention) -> Result<Store, StoreError> {
        let connection = match path {
            None => Connection::open_in_memory()?,
            Some(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.as_os_str().to_owned();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
                let connection = Connection::open(path)?;
                // One connection (this process's, behind the mutex) reads and writes, and the
                // file is rebuilt from Kafka at every start: no write-ahead log to copy pages
                // through, no file lock taken per transaction. The rollback journal stays in
                // memory, so a failed batch still rolls back.
                connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
                connection.pragma_update(None, "journal_mode", "MEMORY")?;
                connection
            }
        };
        // Durability is Kafka's: a crash loses nothing the topics cannot give back.
        connection.pragma_update(None, "synchronous", "OFF")?;
        connection.pragma_update(None, "cache_size", -65536)?; // 64 MiB
        connection.execute_batch(SCHEMA)?;
        Ok(Store {
            connection: Mutex::new(connection),
            retention,
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic).
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies a batch in one transaction: results upsert their execution, events insert
    /// (an event before its result creates the execution as RUNNING).
    pub fn apply(&self, records: &[Record]) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        {
            let mut find = transaction.prepare_cached(FIND_ROW)?;
            // A new execution (?1 NULL: SQLite picks the row id) or its row updated in place:
            // the ARN and its lookup hash stay, so no index entry of theirs is rewritten (as
            // `INSERT OR REPLACE`'s delete and insert would).
            let mut upsert_result = transaction.prepare_cached(
                "INSERT INTO executions (id, execution_arn, lookup_hash, state_machine_arn, name,
                    name_hash, status, start_ms, stop_ms, output, error, cause, billed_duration_ms,
                    billed_memory_mb, idempotency_key, key_hash, source_topic, source_partition,
                    source_offset)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
                 ON CONFLICT (id) DO UPDATE SET state_machine_arn = excluded.state_machine_arn,
                    name = excluded.name, name_hash = excluded.name_hash, status = excluded.status,
                    start_ms = excluded.start_ms, stop_ms = excluded.stop_ms,
                    output = excluded.output, error = excluded.error, cause = excluded.cause,
                    billed_duration_ms = excluded.billed_duration_ms,
                    billed_memory_mb = excluded.billed_memory_mb,
                    idempotency_key = excluded.idempotency_key, key_hash = excluded.key_hash,
                    source_topic = excluded.source_topic,
                    source_partition = excluded.source_partition,
                    source_offset = excluded.source_offset",
            )?;
            let mut placeholder = transaction.prepare_cached(
                "INSERT INTO executions (execution_arn, lookup_hash, state_machine_arn, name, status,
                    start_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut insert_event = transaction.prepare_cached(
                "INSERT OR REPLACE INTO events (execution_id, event_id, previous_event_id, timestamp_ms, type, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            // One execution's events come together (one partition, in order): its row id is
            // looked up once per batch.
            let mut rows: HashMap<&str, i64> = HashMap::new();
            for record in records {
                match record {
                    Record::Result(result) => {
                        let arn = result.execution_arn.as_str();
                        let lookup = lookup_text(arn);
                        let lookup_hash = text_hash(lookup);
                        let row = match rows.get(arn) {
                            Some(row) => Some(*row),
                            None => find
                                .query_row(params![lookup_hash, arn], |r| r.get::<_, i64>(0))
                                .optional()?,
                        };
                        let source = result.source.as_ref();
                        let name_hash = own_hash(&result.name, lookup);
                        let key_hash = result
                            .idempotency_key
                            .as_deref()
                            .and_then(|key| own_hash(key, lookup));
                        upsert_result.execute(params![
                            row,
                            arn,
                            lookup_hash,
                            result.state_machine_arn,
                            result.name,
                            name_hash,
                            result.status.code(),
                            result.start_ms,
                            result.stop_ms,
                            result.output,
                            result.error,
                            result.cause,
                            result.billed_duration_ms,
                            result.billed_memory_mb,
                            result.idempotency_key,
                            key_hash,
                            source.map(|s| &s.topic),
                            source.map(|s| s.partition),
                            source.map(|s| s.offset),
                        ])?;
                        if row.is_none() {
                            rows.insert(arn, transaction.last_insert_rowid());
                        }
                    }
                    Record::Event(event) => {
                        let arn = event.execution_arn.as_str();
                        let row = match rows.get(arn) {
                            Some(row) => *row,
                            None => {
                                let lookup = lookup_text(arn);
                                let lookup_hash = text_hash(lookup);
                                let found = find
                                    .query_row(params![lookup_hash, arn], |r| r.get::<_, i64>(0))
                                    .optional()?;
                                let row = match found {
                                    Some(row) => row,
                                    None => {
                                        // Named as its ARN says: no hash of its own.
                                        placeholder.execute(params![
                                            arn,
                                            lookup_hash,
                                            state_machine_of(arn).unwrap_or_default(),
                                            lookup,
                                            Status::Running.code(),
                                            event.timestamp_ms,
                                        ])?;
                                        transaction.last_insert_rowid()
                                    }
                                };
                                rows.insert(arn, row);
                                row
                            }
                        };
                        insert_event.execute(params![
                            row,
                            event.id,
                            event.previous_event_id,
                            event.timestamp_ms,
                            event.event_type,
                            event.details,
                        ])?;
                    }
                }
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// A page of executions, newest first.
    pub fn list(
        &self,
        filter: &Filter,
        limit: usize,
        after: Option<Cursor>,
    ) -> Result<Page, StoreError> {
        let limit = limit.max(1);
        let (sql, values) = list_query(filter, limit, after);
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&sql)?;
        let mut rows = statement.query(params_from_iter(values.iter().map(|v| v.as_ref())))?;
        let mut executions = Vec::new();
        let mut last = None;
        while let Some(row) = rows.next()? {
            if executions.len() == limit {
                return Ok(Page {
                    executions,
                    next: last,
                });
            }
            let (id, execution) = execution_of(row)?;
            last = Some(Cursor {
                start_ms: execution.start_ms,
                row: id,
            });
            executions.push(execution);
        }
        Ok(Page {
            executions,
            next: None,
        })
    }

    /// One execution.
    pub fn execution(&self, execution_arn: &str) -> Result<Option<Execution>, StoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM executions WHERE lookup_hash = ?1 AND execution_arn = ?2"
        ))?;
        Ok(statement
            .query_row(
                params![text_hash(lookup_text(execution_arn)), execution_arn],
                |row| execution_of(row).map(|(_, e)| e),
            )
            .optional()?)
    }

    /// Up to `limit` events of an execution, from after event `after` (exclusive) in id order,
    /// or before it when `reverse`; None when the execution is unknown.
    pub fn history(
        &self,
        execution_arn: &str,
        after: Option<i64>,
        limit: usize,
        reverse: bool,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        let connection = self.connection();
        let row: Option<i64> = connection
            .prepare_cached(FIND_ROW)?
            .query_row(
                params![text_hash(lookup_text(execution_arn)), execution_arn],
                |r| r.get(0),
            )
            .optional()?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sql = if reverse {
            "SELECT event_id, previous_event_id, timestamp_ms, type, details FROM events
             WHERE execution_id = ?1 AND event_id < ?2 ORDER BY event_id DESC LIMIT ?3"
        } else {
            "SELECT event_id, previous_event_id, timestamp_ms, type, details FROM events
             WHERE execution_id = ?1 AND event_id > ?2 ORDER BY event_id LIMIT ?3"
        };
        let bound = after.unwrap_or(if reverse { i64::MAX } else { 0 });
        let mut statement = connection.prepare_cached(sql)?;
        let events = statement
            .query_map(
                params![row, bound, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok(Event {
                        id: r.get(0)?,
                        previous_event_id: r.get(1)?,
                        timestamp_ms: r.get(2)?,
                        event_type: r.get(3)?,
                        details: r.get(4)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(events))
    }

    /// Deletes what the retention rules no longer keep; returns how many executions went.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut deleted = 0;
        if let Some(age) = self.retention.max_age {
            let cutoff = now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
            deleted += self.delete_started_before(cutoff)?;
        }
        if let Some(max_bytes) = self.retention.max_bytes {
            // Oldest first, a slice at a time, until the live pages fit.
            let nth_oldest = nth_oldest_start();
            while self.used_bytes()? > max_bytes {
                let connection = self.connection();
                let count: i64 =
                    connection.query_row("SELECT count(*) FROM executions", [], |r| r.get(0))?;
                if count == 0 {
                    break;
                }
                let slice = (count / 20).max(1);
                let cutoff: i64 = connection.query_row(&nth_oldest, [slice - 1], |r| r.get(0))?;
                drop(connection);
                deleted += self.delete_started_before(cutoff.saturating_add(1))?;
            }
        }
        Ok(deleted)
    }

    fn delete_started_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        transaction.execute(
            &format!(
                "DELETE FROM events WHERE execution_id IN
                    (SELECT id FROM executions WHERE {} AND start_ms < ?1)",
                every_status()
            ),
            [cutoff_ms],
        )?;
        let deleted = transaction.execute(
            &format!(
                "DELETE FROM executions WHERE {} AND start_ms < ?1",
                every_status()
            ),
            [cutoff_ms],
        )?;
        transaction.commit()?;
        Ok(deleted as u64)
    }

    /// Bytes of live pages (cheap: no table scan, unlike `stats`).
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        let connection = self.connection();
        let count = |sql: &str| connection.query_row(sql, [], |r| r.get::<_, i64>(0));
        let pages = count("PRAGMA page_count")? - count("PRAGMA freelist_count")?;
        Ok((pages * count("PRAGMA page_size")?) as u64)
    }

    /// How much the store holds (counts every row: for tests and tools, not hot paths).
    pub fn stats(&self) -> Result<Stats, StoreError> {
        let connection = self.connection();
        let count = |sql: &str| connection.query_row(sql, [], |r| r.get::<_, i64>(0));
        let pages = count("PRAGMA page_count")? - count("PRAGMA freelist_count")?;
        Ok(Stats {
            executions: count("SELECT count(*) FROM executions")? as u64,
            events: count("SELECT count(*) FROM events")? as u64,
            bytes: (pages * count("PRAGMA page_size")?) as u64,
        })
    }
}

/// The SQL of a list page (`limit` rows and one more, which says whether a next page
/// exists) and its parameters.
fn list_query(
    filter: &Filter,
    limit: usize,
    after: Option<Cursor>,
) -> (String, Vec<Box<dyn ToSql>>) {
    // A name or an idempotency key matches a handful of rows: look those up by hash and
    // sort them. The unary `+` keeps SQLite from walking a machine, status or time index
    // instead, whose order saves the sort but whose range holds every execution of it (the
    // planner has no statistics to tell; `every_list_filter_reads_an_index_in_page_order`).
    let few = filter.name.is_some() || filter.idempotency_key.is_some();
    // Without a status, one arm per status, merged newest first (see SCHEMA).
    let statuses: Vec<Option<Status>> = match filter.status {
        Some(status) => vec![Some(status)],
        None if few => vec![None],
        None => Status::all().map(Some).collect(),
    };
    let column = |name: &'static str, plain: &'static str| if few { name } else { plain };
    let mut arms = Vec::new();
    let mut values: Vec<Box<dyn ToSql>> = Vec::new();
    for status in statuses {
        let mut conditions: Vec<&str> = Vec::new();
        if let Some(machine) = &filter.state_machine_arn {
            conditions.push(column("+state_machine_arn = ?", "state_machine_arn = ?"));
            values.push(Box::new(machine.clone()));
        }
        if let Some(status) = status {
            conditions.push(column("+status = ?", "status = ?"));
            values.push(Box::new(status.code()));
        }
        if let Some(after) = filter.started_after_ms {
            conditions.push(column("+start_ms >= ?", "start_ms >= ?"));
            values.push(Box::new(after));
        }
        if let Some(before) = filter.started_before_ms {
            conditions.push(column("+start_ms < ?", "start_ms < ?"));
            values.push(Box::new(before));
        }
        // A name or key is found by the lookup hash when it is the ARN's name, else by its
        // own hash (see SCHEMA).
        if let Some(name) = &filter.name {
            conditions.push("(lookup_hash = ? OR name_hash = ?) AND name = ?");
            values.push(Box::new(text_hash(name)));
            values.push(Box::new(text_hash(name)));
            values.push(Box::new(name.clone()));
        }
        if let Some(key) = &filter.idempotency_key {
            conditions.push("(lookup_hash = ? OR key_hash = ?) AND idempotency_key = ?");
            values.push(Box::new(text_hash(key)));
            values.push(Box::new(text_hash(key)));
            values.push(Box::new(key.clone()));
        }
        if let Some(cursor) = after {
            conditions.push(column(
                "(+start_ms, +id) < (?, ?)",
                "(start_ms, id) < (?, ?)",
            ));
            values.push(Box::new(cursor.start_ms));
            values.push(Box::new(cursor.row));
        }
        let mut arm = format!("SELECT {COLUMNS} FROM executions");
        if !conditions.is_empty() {
            arm.push_str(" WHERE ");
            arm.push_str(&conditions.join(" AND "));
        }
        arms.push(arm);
    }
    let mut sql = arms.join(" UNION ALL ");
    sql.push_str(&format!(
        " ORDER BY start_ms DESC, id DESC LIMIT {}",
        limit + 1
    ));
    (sql, values)
}

fn execution_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Execution)> {
    let topic: Option<String> = row.get(13)?;
    let source = match topic {
        Some(topic) => Some(SourceRef {
            topic,
            partition: row.get(14)?,
            offset: row.get(15)?,
        }),
        None => None,
    };
    Ok((
        row.get(0)?,
        Execution {
            execution_arn: row.get(1)?,
            state_machine_arn: row.get(2)?,
            name: row.get(3)?,
            status: Status::from_code(row.get(4)?),
            start_ms: row.get(5)?,
            stop_ms: row.get(6)?,
            output: row.get(7)?,
            error: row.get(8)?,
            cause: row.get(9)?,
            billed_duration_ms: row.get(10)?,
            billed_memory_mb: row.get(11)?,
            idempotency_key: row.get(12)?,
            source,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EXPLAIN QUERY PLAN of a list page, its rows joined by " | ".
    fn plan(store: &Store, filter: &Filter, after: Option<Cursor>) -> String {
        let (sql, values) = list_query(filter, 100, after);
        let connection = store.connection();
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepares");
        let rows = statement
            .query_map(params_from_iter(values.iter().map(|v| v.as_ref())), |r| {
                r.get::<_, String>(3)
            })
            .expect("explains");
        rows.collect::<Result<Vec<_>, _>>()
            .expect("reads")
            .join(" | ")
    }

    #[test]
    fn every_list_filter_reads_an_index_in_page_order() {
        let store = Store::open(None, Retention::default()).expect("opens");
        let machine = || Some("arn:aws:states:local:000000000000:stateMachine:order".to_owned());
        let cursor = Some(Cursor {
            start_ms: 5,
            row: 7,
        });
        // (filter, the index its plan must use); none may sort: pages stay index range
        // scans however many executions match (without a status, one per status, merged).
        let cases = [
            (Filter::default(), "executions_by_status"),
            (
                Filter {
                    state_machine_arn: machine(),
                    ..Filter::default()
                },
                "executions_by_machine_status",
            ),
            (
                Filter {
                    state_machine_arn: machine(),
                    status: Some(Status::Failed),
                    ..Filter::default()
                },
                "executions_by_machine_status",
            ),
            (
                Filter {
                    status: Some(Status::TimedOut),
                    started_after_ms: Some(1),
                    ..Filter::default()
                },
                "executions_by_status",
            ),
            (
                Filter {
                    started_after_ms: Some(1),
                    started_before_ms: Some(9),
                    ..Filter::default()
                },
                "executions_by_status",
            ),
        ];
        for (filter, index) in cases {
            for after in [None, cursor] {
                let plan = plan(&store, &filter, after);
                assert!(plan.contains(index), "{filter:?} after {after:?}: {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
            }
        }
        // A name or key is a handful of rows: found through the lookup hash and its own
        // (both indexes, never a scan), whatever else narrows it; sorting those few is cheap.
        for filter in [
            Filter {
                name: Some("n1".into()),
                ..Filter::default()
            },
            Filter {
                name: Some("n1".into()),
                state_machine_arn: machine(),
                status: Some(Status::Succeeded),
                ..Filter::default()
            },
            Filter {
                idempotency_key: Some("k1".into()),
                ..Filter::default()
            },
            Filter {
                idempotency_key: Some("k1".into()),
                state_machine_arn: machine(),
                started_after_ms: Some(1),
                ..Filter::default()
            },
        ] {
            for after in [None, cursor] {
                let plan = plan(&store, &filter, after);
                let own = if filter.name.is_some() {
                    "executions_by_name"
                } else {
                    "executions_by_key"
                };
                assert!(
                    plan.contains("executions_by_lookup") && plan.contains(own),
                    "{filter:?} after {after:?}: {plan}"
                );
            }
        }
    }

    #[test]
    fn executions_whose_hashes_collide_stay_apart() {
        let store = Store::open(None, Retention::default()).expect("opens");
        let arn = "arn:aws:states:local:000000000000:express:order:a";
        // Another execution whose lookup hash is a's, as if FNV-1a collided.
        store
            .connection()
            .execute(
                "INSERT INTO executions (execution_arn, lookup_hash, state_machine_arn, name,
                     status, start_ms) VALUES ('other', ?1, 'machine', 'a', 1, 5)",
                [text_hash("a")],
            )
            .expect("inserts");
        let result = |status: Status| {
            Record::Result(crate::ResultRecord {
                execution_arn: arn.into(),
                state_machine_arn: "arn:aws:states:local:000000000000:stateMachine:order".into(),
                name: "a".into(),
                status,
                start_ms: 7,
                stop_ms: 8,
                output: None,
                error: None,
                cause: None,
                billed_duration_ms: 1,
                billed_memory_mb: 64,
                idempotency_key: None,
                source: None,
            })
        };
        store.apply(&[result(Status::Failed)]).expect("applies");
        store.apply(&[result(Status::Succeeded)]).expect("applies");
        let execution = store.execution(arn).expect("reads").expect("exists");
        assert_eq!(
            (execution.status, execution.start_ms),
            (Status::Succeeded, 7)
        );
        // The other row is untouched (it is not found by its own ARN: its hash is a's).
        let other: (i64, i64) = store
            .connection()
            .query_row(
                "SELECT status, start_ms FROM executions WHERE execution_arn = 'other'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("reads");
        assert_eq!(other, (Status::Succeeded.code(), 5));
        assert_eq!(store.stats().expect("stats").executions, 2);
        let found = store
            .list(
                &Filter {
                    name: Some("a".into()),
                    ..Filter::default()
                },
                10,
                None,
            )
            .expect("lists");
        assert_eq!(found.executions.len(), 2, "both are named a");
    }

    #[test]
    fn status_codes_name_every_status_and_retention_reads_the_status_index() {
        assert_eq!(every_status(), "status IN (0, 1, 2, 3, 4)");
        let store = Store::open(None, Retention::default()).expect("opens");
        let connection = store.connection();
        let plan = |sql: &str| {
            let mut statement = connection
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("prepares");
            let rows = statement
                .query_map([1], |r| r.get::<_, String>(3))
                .expect("explains");
            rows.collect::<Result<Vec<_>, _>>()
                .expect("reads")
                .join(" | ")
        };
        let delete = plan(&format!(
            "DELETE FROM executions WHERE {} AND start_ms < ?1",
            every_status()
        ));
        assert!(
            delete.contains("executions_by_status") && !delete.contains("SCAN"),
            "{delete}"
        );
        // The size cutoff merges the statuses' ranges: no sort, no scan of the table.
        let nth = plan(&nth_oldest_start());
        assert!(
            nth.contains("executions_by_status")
                && !nth.contains("SCAN")
                && !nth.contains("TEMP B-TREE"),
            "{nth}"
        );
    }
}

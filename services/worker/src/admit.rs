//! Admission: turns a start record into a job, a duplicate, or a rejection. Decodes the
//! input, finds the state machine and the idempotency key, waits for the start rate limit,
//! and claims the key. Bad input is a value (`Reject`), never an error that stops the loop.

use crate::config::TriggerConfig;
use crate::idempotency::{Claim, ClaimKey, DuplicateOf, IdempotencyStore, RecordId, StoreError};
use crate::metrics::Metrics;
use crate::source::SourceRecord;
use asl::interpret::PAYLOAD_LIMIT_BYTES;
use asl::path::Path;
use quickstep_proto::v1::StartExecution;
use quickstep_proto::{ContentType, CONTENT_TYPE_HEADER};
use runtime::execute::ExecutionRequest;
pub use runtime::follow::RegistrySync;
use runtime::kafka::HEADER_TRACEPARENT;
pub use runtime::kafka::{HEADER_EXECUTION_NAME, HEADER_IDEMPOTENCY_KEY, HEADER_STATE_MACHINE};
use runtime::registry::Registry;
use runtime::start_rate::StartLimits;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A start record ready to run.
#[derive(Debug)]
pub struct Job {
    /// The record it came from.
    pub record: SourceRecord,
    /// What the runtime runs: the revision current at admission, the input, the name and
    /// ARN, the record's trace context.
    pub execution: ExecutionRequest,
    /// The idempotency key the execution holds.
    pub idempotency_key: String,
    /// The key to claim before running and to complete after, when idempotency is on.
    pub claim: Option<ClaimKey>,
}

/// Why a record cannot run: each names the error its FAILED result carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The value is not JSON (or not a valid envelope).
    InvalidInput,
    /// The input exceeds 262,144 bytes.
    DataLimitExceeded,
    /// Nothing names the state machine.
    NoStateMachine,
    /// The named state machine is not registered.
    UnknownStateMachine,
    /// The idempotency store answered the claim with an error retrying cannot fix (a
    /// protocol error, a corrupt value under the key).
    IdempotencyStoreError,
}

impl RejectReason {
    /// The `error` of the FAILED result.
    pub fn error_name(self) -> &'static str {
        match self {
            RejectReason::InvalidInput | RejectReason::NoStateMachine => "Quickstep.InvalidInput",
            RejectReason::DataLimitExceeded => "States.DataLimitExceeded",
            RejectReason::UnknownStateMachine => "Quickstep.StateMachineDoesNotExist",
            RejectReason::IdempotencyStoreError => "Quickstep.IdempotencyStoreError",
        }
    }

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::InvalidInput => "invalid_input",
            RejectReason::DataLimitExceeded => "data_limit_exceeded",
            RejectReason::NoStateMachine => "no_state_machine",
            RejectReason::UnknownStateMachine => "unknown_state_machine",
            RejectReason::IdempotencyStoreError => "idempotency_store_error",
        }
    }
}

/// A record answered with a FAILED result without running.
#[derive(Debug)]
pub struct Rejection {
    /// The record.
    pub record: SourceRecord,
    /// Why.
    pub reason: RejectReason,
    /// A message naming the culprit.
    pub cause: String,
    /// The state machine, when one was named.
    pub state_machine: Option<String>,
    /// The idempotency key, when one was found.
    pub idempotency_key: String,
}

/// What admission decided.
#[derive(Debug)]
pub enum Admission {
    /// Run it.
    Run(Box<Job>),
    /// Its key ran or runs already: skip it.
    Duplicate(DuplicateOf),
    /// Answer with a FAILED result. (Boxed: an execution's task keeps room for the largest
    /// variant for as long as it awaits anything after admission.)
    Reject(Box<Rejection>),
    /// Shutdown came while the idempotency store was unreachable: leave the record
    /// uncommitted for the next owner.
    Abandoned,
    /// The named state machine is not in the registry, which may not have read it yet:
    /// `reconsider` once it has caught up (off the loop that reads the partitions).
    Unknown(Box<SourceRecord>),
}

/// A trigger with its paths compiled.
struct Trigger {
    config: TriggerConfig,
    state_machine_path: Option<Path>,
    idempotency_key_path: Option<Path>,
}

/// The admission stage.
pub struct Admit {
    registry: Arc<Registry>,
    sync: Option<Arc<dyn RegistrySync>>,
    store: Option<Arc<dyn IdempotencyStore>>,
    triggers: Vec<Trigger>,
    limits: StartLimits,
    metrics: Metrics,
}

/// A trigger whose JSONPath does not parse.
#[derive(Debug, thiserror::Error)]
#[error("trigger {topic}: {error}")]
pub struct TriggerError {
    topic: String,
    error: asl::path::PathError,
}

/// How long a running claim lives: the Express limit plus slack, so a dead worker's claim
/// lapses and the redelivered record can run.
const RUNNING_TTL: Duration = Duration::from_secs(asl::interpret::EXPRESS_MAX_SECONDS + 60);

impl Admit {
    /// Builds the stage.
    pub fn new(
        registry: Arc<Registry>,
        sync: Option<Arc<dyn RegistrySync>>,
        store: Option<Arc<dyn IdempotencyStore>>,
        triggers: &[TriggerConfig],
        limits: StartLimits,
        metrics: Metrics,
    ) -> Result<Admit, TriggerError> {
        let compile = |topic: &str, path: &Option<String>| {
            path.as_deref()
                .map(Path::parse)
                .transpose()
                .map_err(|error| TriggerError {
                    topic: topic.to_owned(),
                    error,
                })
        };
        let triggers = triggers
            .iter()
            .map(|t| {
                Ok(Trigger {
                    state_machine_path: compile(&t.topic, &t.state_machine_path)?,
                    idempotency_key_path: compile(&t.topic, &t.idempotency_key_path)?,
                    config: t.clone(),
                })
            })
            .collect::<Result<Vec<_>, TriggerError>>()?;
        Ok(Admit {
            registry,
            sync,
            store,
            triggers,
            limits,
            metrics,
        })
    }

    fn reject(
        &self,
        record: SourceRecord,
        reason: RejectReason,
        cause: String,
        state_machine: Option<String>,
        key: String,
    ) -> Admission {
        self.metrics
            .rejected
            .with_label_values(&[reason.label()])
            .inc();
        Admission::Reject(Box::new(Rejection {
            record,
            reason,
            cause,
            state_machine,
            idempotency_key: key,
        }))
    }

    /// Decides what to do with one record: decodes, routes, finds the revision, waits for
    /// the start rate and claims the idempotency key. The worker admits inside each
    /// execution's task, so claims (a Redis round trip each) overlap instead of queueing in
    /// the loop that reads the partitions.
    ///
    /// Only what may wait is a future: the registry catch-up for an unknown state machine,
    /// the rate limit once its bucket is empty, and the claim. The rest runs in place, and
    /// the rarely taken waits are boxed, so the future stays small (each execution's task
    /// holds it, and a large one was copied into its box for every record).
    pub async fn admit(&self, record: SourceRecord, shutdown: &CancellationToken) -> Admission {
        let if_unknown = match self.sync {
            Some(_) => IfUnknown::CatchUp,
            None => IfUnknown::Refuse,
        };
        let mut admission = self.decide(record, if_unknown);
        if let Admission::Unknown(record) = admission {
            admission = Box::pin(self.reconsider(*record)).await;
        }
        let Admission::Run(job) = admission else {
            return admission;
        };
        if self.limits.check(&job.execution.revision.name).is_err()
            && Box::pin(self.limits.wait(&job.execution.revision.name)).await
        {
            self.metrics
                .throttled
                .with_label_values(&[&job.execution.revision.name])
                .inc();
        }
        let mut admission = self.claim_job(job, shutdown).await;
        if let Admission::Run(job) = &mut admission {
            job.record.keep_for_result();
        }
        admission
    }

    /// Decides again on a record whose state machine was unknown, once the registry has
    /// read every revision written before the record; still unknown, it is refused.
    async fn reconsider(&self, record: SourceRecord) -> Admission {
        if let Some(sync) = &self.sync {
            sync.catch_up(record.timestamp_ms).await;
        }
        self.decide(record, IfUnknown::Refuse)
    }

    /// Decodes, routes and finds the revision; `if_unknown` says whether an unknown state
    /// machine is `Unknown` (to reconsider after a registry catch-up) or refused.
    fn decide(&self, record: SourceRecord, if_unknown: IfUnknown) -> Admission {
        let trigger = self
            .triggers
            .iter()
            .find(|t| *t.config.topic == *record.id.topic);
        let Decoded {
            input,
            envelope,
            fallback_key,
        } = match decode(&record) {
            Ok(decoded) => decoded,
            Err(refused) => {
                return self.reject(record, refused.reason, refused.cause, None, refused.key)
            }
        };
        let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
        let named = trigger
            .and_then(|t| t.config.state_machine.clone())
            .or_else(|| envelope.as_ref().and_then(|e| non_empty(&e.state_machine)))
            .or_else(|| record.header(HEADER_STATE_MACHINE).map(str::to_owned))
            .or_else(|| {
                let path = trigger?.state_machine_path.as_ref()?;
                path.select(&input)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            });
        let Some(name) = named else {
            let cause = format!("No state machine is named: set the '{HEADER_STATE_MACHINE}' header or bind the topic to one.");
            return self.reject(
                record,
                RejectReason::NoStateMachine,
                cause,
                None,
                fallback_key,
            );
        };
        let key = trigger
            .and_then(|t| t.idempotency_key_path.as_ref())
            .and_then(|path| path.select(&input).ok())
            .and_then(|v| match v.as_ref() {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .unwrap_or(fallback_key);
        // As of the record's time: a start accepted before its state machine was deleted
        // still runs.
        let Some(revision) = self.registry.get_as_of(&name, record.timestamp_ms) else {
            if if_unknown == IfUnknown::CatchUp {
                return Admission::Unknown(Box::new(record));
            }
            let cause = format!("State Machine Does Not Exist: '{name}'");
            return self.reject(
                record,
                RejectReason::UnknownStateMachine,
                cause,
                Some(name),
                key,
            );
        };
        let execution_name = envelope
            .as_ref()
            .and_then(|e| e.name.as_deref())
            .or_else(|| record.header(HEADER_EXECUTION_NAME))
            .filter(|n| valid_name(n))
            .map(str::to_owned)
            .unwrap_or_else(|| derived_name(&record.id));
        let execution_arn = self.registry.execution_arn(&revision.name, &execution_name);
        let claim = self
            .store
            .as_ref()
            .map(|_| ClaimKey::new(revision.name.clone(), key.clone()));
        // The execution continues the start record's trace (W3C `traceparent`).
        let traceparent = record.header(HEADER_TRACEPARENT).map(str::to_owned);
        Admission::Run(Box::new(Job {
            record,
            execution: ExecutionRequest {
                revision,
                input,
                name: execution_name,
                execution_arn,
                traceparent,
                attempt: 1,
            },
            idempotency_key: key,
            claim,
        }))
    }

    /// Claims a decided job's key: `Run` (claimed, or taken over from an earlier delivery of
    /// the same record), `Duplicate`, `Reject` when the store fails in a way retrying cannot
    /// fix, or `Abandoned` when shutdown comes while the store is unreachable (the record
    /// stays uncommitted for the next owner).
    async fn claim_job(&self, mut job: Box<Job>, shutdown: &CancellationToken) -> Admission {
        let (Some(store), Some(key)) = (&self.store, &job.claim) else {
            return Admission::Run(job);
        };
        // The first attempt in place; the retries, rarely needed, in a box of their own.
        let first = match store.claim_in_place(key, &job.record.id, RUNNING_TTL) {
            Some(answer) => answer,
            None => store.claim(key, &job.record.id, RUNNING_TTL).await,
        };
        let claim = match first {
            Ok(claim) => Ok(claim),
            Err(error) if error.is_transient() => {
                self.claim_failed(&error, &job.record.id);
                Box::pin(self.claim_again(store.as_ref(), key, &job.record.id, shutdown)).await
            }
            Err(error) => Err(ClaimEnd::Permanent(error)),
        };
        match claim {
            Err(ClaimEnd::Shutdown) => Admission::Abandoned,
            Err(ClaimEnd::Permanent(error)) => {
                self.metrics
                    .idempotency_errors
                    .with_label_values(&["claim"])
                    .inc();
                tracing::error!(message = "Idempotency claim failed for good; the record ends FAILED.", %error, record = %job.record.id);
                let cause = format!(
                    "The idempotency store could not claim the key, and retrying cannot help: {error}"
                );
                let name = job.execution.revision.name.clone();
                let key = std::mem::take(&mut job.idempotency_key);
                self.reject(
                    job.record,
                    RejectReason::IdempotencyStoreError,
                    cause,
                    Some(name),
                    key,
                )
            }
            Ok(Claim::Duplicate(of)) => {
                self.metrics.duplicates.inc();
                Admission::Duplicate(of)
            }
            Ok(Claim::Claimed) => Admission::Run(job),
            // A redelivery of a record whose first run stopped before completing: this run's
            // history records say it is a later attempt.
            Ok(Claim::TakenOver) => {
                let mut job = job;
                job.execution.attempt = 2;
                Admission::Run(job)
            }
        }
    }

    /// After a transient claim failure: claims again with exponential backoff while the store
    /// is unreachable (the worker never runs an execution without the guarantee it was
    /// configured with), until shutdown or an error retrying cannot fix.
    async fn claim_again(
        &self,
        store: &dyn IdempotencyStore,
        key: &ClaimKey,
        record: &RecordId,
        shutdown: &CancellationToken,
    ) -> Result<Claim, ClaimEnd> {
        let mut delay = Duration::from_millis(100);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Err(ClaimEnd::Shutdown),
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
            match store.claim(key, record, RUNNING_TTL).await {
                Ok(claim) => return Ok(claim),
                Err(error) if error.is_transient() => self.claim_failed(&error, record),
                Err(error) => return Err(ClaimEnd::Permanent(error)),
            }
        }
    }

    fn claim_failed(&self, error: &StoreError, record: &RecordId) {
        self.metrics
            .idempotency_errors
            .with_label_values(&["claim"])
            .inc();
        tracing::warn!(message = "Idempotency claim failed; retrying.", %error, record = %record);
    }
}

/// What admission does with a record whose state machine the registry does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IfUnknown {
    /// Hand it back as `Unknown`, to decide again once the registry has caught up.
    CatchUp,
    /// Refuse it as `UnknownStateMachine`.
    Refuse,
}

/// A start record's input, its envelope when it has one, and the idempotency key it names
/// (the envelope's, else the header, else the record key, else the record's position).
struct Decoded {
    input: Value,
    envelope: Option<StartExecution>,
    fallback_key: String,
}

/// Why a record does not decode, with the key its FAILED result carries.
struct Undecodable {
    reason: RejectReason,
    cause: String,
    key: String,
}

/// Decodes a start record's value: the bare input, or a StartExecution envelope (binary or
/// proto3 JSON) when `content-type` says so, whose fields then take precedence.
fn decode(record: &SourceRecord) -> Result<Decoded, Undecodable> {
    let fallback_key = record
        .header(HEADER_IDEMPOTENCY_KEY)
        .map(str::to_owned)
        .or_else(|| {
            record
                .key
                .as_deref()
                .and_then(|k| std::str::from_utf8(k).ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| record.id.to_string());
    let payload = record.payload.as_deref().unwrap_or_default();
    if payload.len() > PAYLOAD_LIMIT_BYTES {
        return Err(Undecodable {
            reason: RejectReason::DataLimitExceeded,
            cause: format!(
                "The input of {} bytes exceeds the maximum of {PAYLOAD_LIMIT_BYTES} bytes.",
                payload.len()
            ),
            key: fallback_key,
        });
    }
    let content_type = record.header(CONTENT_TYPE_HEADER).map(ContentType::parse);
    let envelope = match content_type {
        Some(ct) if ct.is_protobuf_of(StartExecution::FULL_NAME) => {
            Some(StartExecution::from_protobuf_bytes(payload))
        }
        Some(ct) if ct.is_json_of(StartExecution::FULL_NAME) => {
            Some(StartExecution::from_json_bytes(payload))
        }
        _ => None,
    };
    let envelope = match envelope.transpose() {
        Ok(envelope) => envelope,
        Err(error) => {
            return Err(Undecodable {
                reason: RejectReason::InvalidInput,
                cause: format!("The StartExecution envelope does not decode: {error}"),
                key: fallback_key,
            })
        }
    };
    let input_text: &[u8] = match &envelope {
        Some(envelope) if envelope.input.is_empty() => b"{}",
        Some(envelope) => envelope.input.as_bytes(),
        None => payload,
    };
    let input: Value = match serde_json::from_slice(input_text) {
        Ok(input) => input,
        Err(error) => {
            return Err(Undecodable {
                reason: RejectReason::InvalidInput,
                cause: format!("The execution input is not JSON: {error}"),
                key: fallback_key,
            })
        }
    };
    let fallback_key = match &envelope {
        Some(e) if !e.idempotency_key.is_empty() => e.idempotency_key.clone(),
        _ => fallback_key,
    };
    Ok(Decoded {
        input,
        envelope,
        fallback_key,
    })
}

/// Why a claim ended without an answer.
enum ClaimEnd {
    /// Shutdown came while the store was unreachable.
    Shutdown,
    /// The store failed in a way retrying cannot fix.
    Permanent(StoreError),
}

/// AWS's execution name rules: 1–80 characters, none of whitespace, `<>{}[]?*"#%\^|~`$&,;:/`
/// or control characters.
fn valid_name(name: &str) -> bool {
    (1..=80).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

/// A name from the record's coordinates: a redelivered record gets the same name (and so the
/// same execution ARN), which is how duplicates of one execution are recognised downstream.
fn derived_name(record: &RecordId) -> String {
    use std::fmt::Write as _;
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    // Sized once and written in place: this runs for every record, and `format!` would
    // grow the string several times over.
    let mut name = String::with_capacity(record.topic.len().min(48) + 32);
    // Most topic names are already allowed and short: no per-character rebuild (and a
    // byte check: only ASCII is allowed, so no need to decode characters).
    if record.topic.len() <= 48 && record.topic.bytes().all(|b| allowed(char::from(b))) {
        name.push_str(&record.topic);
    } else {
        name.extend(
            record
                .topic
                .chars()
                .map(|c| if allowed(c) { c } else { '_' })
                .take(48),
        );
    }
    // Writing to a String cannot fail.
    let _ = write!(name, "-{}-{}", record.partition, record.offset);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::MemoryStore;
    use futures::future::BoxFuture;
    use runtime::registry::RegistryEntry;
    use runtime::start_rate::BucketClock;

    fn record(payload: &[u8], headers: &[(&str, &str)]) -> SourceRecord {
        SourceRecord {
            id: RecordId::new("quickstep.start", 2, 7),
            key: Some(b"key-1".to_vec()),
            payload: Some(payload.to_vec()),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            timestamp_ms: None,
        }
    }

    fn entry(name: &str) -> RegistryEntry {
        RegistryEntry {
            name: name.into(),
            definition: r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#.into(),
            role_arn: String::new(),
            level: None,
            include_execution_data: false,
        }
    }

    fn admit(store: Option<Arc<dyn IdempotencyStore>>, triggers: &[TriggerConfig]) -> Admit {
        admit_with(None, store, triggers)
    }

    fn admit_with(
        sync: Option<Arc<dyn RegistrySync>>,
        store: Option<Arc<dyn IdempotencyStore>>,
        triggers: &[TriggerConfig],
    ) -> Admit {
        let registry = Arc::new(Registry::new("local", "000000000000"));
        registry.apply(&entry("orders")).expect("valid");
        Admit::new(
            registry,
            sync,
            store,
            triggers,
            StartLimits::new(None, &Default::default()),
            Metrics::new(),
        )
        .expect("valid triggers")
    }

    fn default_trigger() -> Vec<TriggerConfig> {
        vec![TriggerConfig {
            topic: "quickstep.start".into(),
            state_machine: None,
            state_machine_path: None,
            idempotency_key_path: None,
        }]
    }

    async fn decide(admit: &Admit, record: SourceRecord) -> Admission {
        admit.admit(record, &CancellationToken::new()).await
    }

    /// Fails its first `failures` claims with `error`, then answers `then` (claims when
    /// `None`); counts the claims it was asked.
    struct Flaky {
        failures: std::sync::atomic::AtomicUsize,
        error: StoreError,
        then: Option<StoreError>,
        claims: std::sync::atomic::AtomicUsize,
    }

    impl IdempotencyStore for Flaky {
        fn claim<'a>(
            &'a self,
            _key: &'a ClaimKey,
            _record: &'a RecordId,
            _running_ttl: Duration,
        ) -> BoxFuture<'a, Result<Claim, StoreError>> {
            use std::sync::atomic::Ordering::SeqCst;
            self.claims.fetch_add(1, SeqCst);
            let down = self
                .failures
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok();
            Box::pin(async move {
                match (down, &self.then) {
                    (true, _) => Err(self.error.clone()),
                    (false, Some(error)) => Err(error.clone()),
                    (false, None) => Ok(Claim::Claimed),
                }
            })
        }
        fn complete<'a>(
            &'a self,
            _key: &'a ClaimKey,
            _record: &'a RecordId,
            _execution_arn: &'a str,
            _window: Duration,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
        fn release<'a>(
            &'a self,
            _key: &'a ClaimKey,
            _record: &'a RecordId,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
    }

    fn flaky(failures: usize) -> Arc<dyn IdempotencyStore> {
        Arc::new(Flaky {
            failures: failures.into(),
            error: StoreError::Unavailable("connection refused".into()),
            then: None,
            claims: 0.into(),
        })
    }

    #[tokio::test]
    async fn a_claim_error_retrying_cannot_fix_ends_the_record_failed() {
        for transient_first in [0, 2] {
            let store = Arc::new(Flaky {
                failures: transient_first.into(),
                error: StoreError::Unavailable("connection refused".into()),
                then: Some(StoreError::Protocol(
                    "malformed idempotency value \"x\"".into(),
                )),
                claims: 0.into(),
            });
            let admit = admit(Some(store.clone()), &default_trigger());
            let start = record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
            let Admission::Reject(rejection) = decide(&admit, start).await else {
                panic!("a permanent store error refuses the record");
            };
            assert_eq!(rejection.reason, RejectReason::IdempotencyStoreError);
            assert_eq!(
                rejection.reason.error_name(),
                "Quickstep.IdempotencyStoreError"
            );
            assert!(rejection.cause.contains("malformed"), "{}", rejection.cause);
            assert_eq!(rejection.state_machine.as_deref(), Some("orders"));
            assert_eq!(rejection.idempotency_key, "key-1");
            assert_eq!(rejection.record.id, RecordId::new("quickstep.start", 2, 7));
            // The transient failures were retried; the permanent one was not.
            assert_eq!(
                store.claims.load(std::sync::atomic::Ordering::SeqCst),
                transient_first + 1
            );
            assert_eq!(
                admit
                    .metrics
                    .rejected
                    .with_label_values(&["idempotency_store_error"])
                    .get(),
                1
            );
        }
    }

    #[tokio::test]
    async fn a_job_keeps_of_its_record_only_what_its_result_needs() {
        let admit = admit(None, &default_trigger());
        let start = record(
            br#"{"a": 1}"#,
            &[
                (HEADER_STATE_MACHINE, "orders"),
                ("traceparent", "00-a-b-01"),
            ],
        );
        let Admission::Run(job) = decide(&admit, start).await else {
            panic!("it runs");
        };
        assert_eq!(job.execution.input, serde_json::json!({"a": 1}));
        assert_eq!(job.record.payload, None, "the input holds the value");
        assert_eq!(job.record.headers.len(), 1);
        assert_eq!(job.record.header("traceparent"), Some("00-a-b-01"));
        assert_eq!(job.record.key.as_deref(), Some(&b"key-1"[..]));
        // A rejected record keeps everything: its dead-letter copy is the record as it came.
        let refused = record(b"not json", &[(HEADER_STATE_MACHINE, "orders")]);
        let Admission::Reject(rejection) = decide(&admit, refused).await else {
            panic!("it is refused");
        };
        assert_eq!(rejection.record.payload.as_deref(), Some(&b"not json"[..]));
        assert_eq!(rejection.record.headers.len(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_store_is_retried_until_it_claims() {
        let admit = admit(Some(flaky(2)), &default_trigger());
        let start = record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
        assert!(matches!(decide(&admit, start).await, Admission::Run(_)));
        assert_eq!(
            admit
                .metrics
                .idempotency_errors
                .with_label_values(&["claim"])
                .get(),
            2,
            "the first attempt and one retry failed"
        );
    }

    #[tokio::test]
    async fn a_start_written_before_its_machine_was_deleted_still_runs() {
        let admit = admit(None, &default_trigger());
        admit.registry.remove("orders", 2_000);
        let mut before = record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
        before.timestamp_ms = Some(1_999);
        let Admission::Run(job) = decide(&admit, before).await else {
            panic!("a start accepted before the deletion runs");
        };
        assert_eq!(job.execution.revision.name, "orders");
        let mut after = record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
        after.timestamp_ms = Some(2_001);
        let Admission::Reject(rejection) = decide(&admit, after).await else {
            panic!("a start after the deletion is refused");
        };
        assert_eq!(rejection.reason, RejectReason::UnknownStateMachine);
    }

    #[tokio::test]
    async fn shutdown_while_the_store_is_unreachable_abandons_the_record() {
        let admit = admit(Some(flaky(usize::MAX)), &default_trigger());
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let start = record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
        assert!(matches!(
            admit.admit(start, &shutdown).await,
            Admission::Abandoned
        ));
    }

    #[tokio::test]
    async fn over_the_start_rate_admission_waits_and_counts_it() {
        // Two starts per second, a bucket of two: the third record waits for a token.
        let registry = Arc::new(Registry::new("local", "000000000000"));
        registry.apply(&entry("orders")).expect("valid");
        let metrics = Metrics::new();
        let clock = governor::clock::FakeRelativeClock::default();
        let admit = Admit::new(
            registry,
            None,
            None,
            &default_trigger(),
            StartLimits::with_clock(
                None,
                &[("orders".to_owned(), 2)].into(),
                BucketClock::Fake(clock.clone()),
            ),
            metrics.clone(),
        )
        .expect("valid triggers");
        let throttled = || metrics.throttled.with_label_values(&["orders"]).get();
        let started = governor::clock::Clock::now(&clock);
        for _ in 0..2 {
            let start = record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
            assert!(matches!(decide(&admit, start).await, Admission::Run(_)));
        }
        assert_eq!(throttled(), 0, "within the bucket");
        let start = record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
        assert!(matches!(decide(&admit, start).await, Admission::Run(_)));
        assert_eq!(throttled(), 1);
        let waited = governor::clock::Reference::duration_since(
            &governor::clock::Clock::now(&clock),
            started,
        );
        assert_eq!(
            std::time::Duration::from(waited),
            std::time::Duration::from_millis(500),
            "a token comes every 500 ms"
        );
    }

    #[tokio::test]
    async fn a_redelivered_record_taking_over_its_claim_runs_as_attempt_two() {
        let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
        let admit = admit(Some(store), &default_trigger());
        let attempt = |admission| match admission {
            Admission::Run(job) => job.execution.attempt,
            _ => panic!("should run"),
        };
        let start = || record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
        assert_eq!(attempt(decide(&admit, start()).await), 1);
        // The same record again while its claim is running: its first worker stopped.
        assert_eq!(attempt(decide(&admit, start()).await), 2);
    }

    #[tokio::test]
    async fn a_good_record_runs_with_a_derived_name() {
        let admit = admit(None, &default_trigger());
        let Admission::Run(job) = decide(
            &admit,
            record(b"{\"a\":1}", &[(HEADER_STATE_MACHINE, "orders")]),
        )
        .await
        else {
            panic!("should run")
        };
        assert_eq!(job.execution.name, "quickstep_start-2-7");
        assert_eq!(
            job.execution.execution_arn,
            "arn:aws:states:local:000000000000:express:orders:quickstep_start-2-7"
        );
        assert_eq!(job.idempotency_key, "key-1");
        assert_eq!(job.execution.input, serde_json::json!({"a": 1}));
    }

    #[tokio::test]
    async fn bad_input_is_rejected_with_a_reason() {
        let admit = admit(None, &default_trigger());
        let cases: Vec<(SourceRecord, RejectReason)> = vec![
            (
                record(b"{not json", &[(HEADER_STATE_MACHINE, "orders")]),
                RejectReason::InvalidInput,
            ),
            (record(b"{}", &[]), RejectReason::NoStateMachine),
            (
                record(b"{}", &[(HEADER_STATE_MACHINE, "nope")]),
                RejectReason::UnknownStateMachine,
            ),
            (
                record(
                    &vec![b' '; PAYLOAD_LIMIT_BYTES + 1],
                    &[(HEADER_STATE_MACHINE, "orders")],
                ),
                RejectReason::DataLimitExceeded,
            ),
        ];
        for (record, reason) in cases {
            match decide(&admit, record).await {
                Admission::Reject(rejection) => assert_eq!(rejection.reason, reason),
                other => panic!("expected {reason:?}, got {other:?}"),
            }
        }
    }

    /// A registry reader that reads `late` only when asked to catch up.
    struct LateReader {
        registry: std::sync::Mutex<Option<Arc<Registry>>>,
        asked: std::sync::Mutex<Vec<Option<i64>>>,
        late: Option<&'static str>,
    }

    impl RegistrySync for LateReader {
        fn catch_up<'a>(&'a self, produced_ms: Option<i64>) -> BoxFuture<'a, ()> {
            self.asked.lock().unwrap().push(produced_ms);
            if let (Some(registry), Some(name)) = (&*self.registry.lock().unwrap(), self.late) {
                registry.apply(&entry(name)).expect("valid");
            }
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn an_unknown_machine_waits_for_the_registry_to_catch_up_before_a_refusal() {
        for (late, runs) in [(Some("fresh"), true), (None, false)] {
            let reader = Arc::new(LateReader {
                registry: Default::default(),
                asked: Default::default(),
                late,
            });
            let admit = admit_with(
                Some(reader.clone() as Arc<dyn RegistrySync>),
                None,
                &default_trigger(),
            );
            *reader.registry.lock().unwrap() = Some(admit.registry.clone());
            let mut start = record(b"{}", &[(HEADER_STATE_MACHINE, "fresh")]);
            start.timestamp_ms = Some(1_700_000_000_000);
            let decided = decide(&admit, start).await;
            assert_eq!(matches!(decided, Admission::Run(_)), runs, "{decided:?}");
            if !runs {
                assert!(
                    matches!(&decided, Admission::Reject(r) if r.reason == RejectReason::UnknownStateMachine)
                );
            }
            assert_eq!(*reader.asked.lock().unwrap(), vec![Some(1_700_000_000_000)]);
            // A known machine never waits.
            decide(&admit, record(b"{}", &[(HEADER_STATE_MACHINE, "orders")])).await;
            assert_eq!(reader.asked.lock().unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn triggers_route_and_key_by_jsonpath() {
        let triggers = vec![TriggerConfig {
            topic: "quickstep.start".into(),
            state_machine: None,
            state_machine_path: Some("$.machine".into()),
            idempotency_key_path: Some("$.order.id".into()),
        }];
        let admit = admit(None, &triggers);
        let Admission::Run(job) = decide(
            &admit,
            record(br#"{"machine":"orders","order":{"id":99}}"#, &[]),
        )
        .await
        else {
            panic!("should run")
        };
        assert_eq!(job.idempotency_key, "99");
        assert_eq!(job.execution.revision.name, "orders");
    }

    #[tokio::test]
    async fn a_second_record_with_the_same_key_is_a_duplicate() {
        let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryStore::new());
        let admit = admit(Some(store), &default_trigger());
        let first = record(b"{}", &[(HEADER_STATE_MACHINE, "orders")]);
        let mut second = first.clone();
        second.id.offset = 8;
        assert!(matches!(
            decide(&admit, first.clone()).await,
            Admission::Run(_)
        ));
        assert!(
            matches!(decide(&admit, first).await, Admission::Run(_)),
            "the same record takes over"
        );
        assert!(matches!(
            decide(&admit, second).await,
            Admission::Duplicate(_)
        ));
        assert_eq!(admit.metrics.duplicates.get(), 1);
    }

    #[tokio::test]
    async fn a_protobuf_envelope_names_machine_key_and_execution() {
        let admit = admit(None, &default_trigger());
        let envelope = StartExecution {
            state_machine: "orders".into(),
            name: Some("order-7".into()),
            input: r#"{"id":7}"#.into(),
            idempotency_key: "k-7".into(),
            ..StartExecution::default()
        };
        let mut start = record(
            &envelope.to_protobuf_bytes(),
            &[(CONTENT_TYPE_HEADER, StartExecution::CONTENT_TYPE)],
        );
        start
            .headers
            .push((HEADER_STATE_MACHINE.into(), b"ignored".to_vec()));
        let Admission::Run(job) = decide(&admit, start).await else {
            panic!("should run")
        };
        assert_eq!(
            (job.execution.name.as_str(), job.idempotency_key.as_str()),
            ("order-7", "k-7")
        );
        assert_eq!(job.execution.input, serde_json::json!({"id": 7}));
        let garbage = record(
            b"\xff\xff\xff",
            &[(CONTENT_TYPE_HEADER, StartExecution::CONTENT_TYPE)],
        );
        assert!(
            matches!(decide(&admit, garbage).await, Admission::Reject(r) if r.reason == RejectReason::InvalidInput)
        );
    }

    #[test]
    fn execution_names_follow_aws_rules() {
        assert!(valid_name("order-42_a"));
        assert!(!valid_name(""));
        assert!(!valid_name("has space"));
        assert!(!valid_name(&"x".repeat(81)));
        assert!(!valid_name("a/b"));
    }

    #[test]
    fn derived_names_are_valid_names() {
        assert_eq!(
            derived_name(&RecordId::new("orders-v1", 0, 5)),
            "orders-v1-0-5"
        );
        let long = derived_name(&RecordId::new(format!("team.{}", "x".repeat(60)), 3, 9));
        assert_eq!(long, format!("team_{}-3-9", "x".repeat(43)));
        assert!(valid_name(&long));
    }
}

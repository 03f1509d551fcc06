//! `.waitForTaskToken` callbacks: the tokens this worker's executions wait on, and how
//! SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat reach them (DESIGN.md, Callbacks).
//!
//! A task registers its token before it calls anything (the callee may answer first) and
//! waits; an answer arriving through `CallbackRegistry::deliver` — from the Kafka callback
//! topic every worker follows, or from the gateway in the same process — completes it, and
//! a heartbeat calls the engine's `Heartbeat::beat`. The engine enforces TimeoutSeconds and
//! HeartbeatSeconds; when it gives up (or the execution ends) the waiter is dropped, and the
//! token is remembered as ended so a late answer gets `TaskTimedOut`, as AWS answers.
//!
//! Every token is checked against the deployment's keys (`task_token`) before any look-up:
//! a forged or altered one is `InvalidToken`, and on the callback topic it is counted
//! (`quickstep_callbacks_rejected_total{reason}`) and dropped.

use crate::task_token::{TaskTokenKeys, TokenError};
use asl::interpret::{Clock, Heartbeat};
use asl::{ErrorName, StatesError};
use prometheus::IntCounterVec;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// One callback, as the Step Functions API names its actions and fields; this is also the
/// JSON value of a record on the callback topic (key = the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all_fields = "camelCase")]
pub enum CallbackMessage {
    /// The task succeeded with `output` (JSON text).
    SendTaskSuccess {
        /// `$$.Task.Token`.
        task_token: String,
        /// The task's result, as JSON text.
        output: String,
    },
    /// The task failed.
    SendTaskFailure {
        /// `$$.Task.Token`.
        task_token: String,
        /// The error name a Catch matches.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The cause.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<String>,
    },
    /// The task is alive: HeartbeatSeconds starts over.
    SendTaskHeartbeat {
        /// `$$.Task.Token`.
        task_token: String,
    },
}

impl CallbackMessage {
    /// The token it is for.
    pub fn token(&self) -> &str {
        match self {
            CallbackMessage::SendTaskSuccess { task_token, .. }
            | CallbackMessage::SendTaskFailure { task_token, .. }
            | CallbackMessage::SendTaskHeartbeat { task_token } => task_token,
        }
    }
}

/// Why a callback was refused, with the Step Functions API's error names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The token is malformed, forged or altered.
    #[error("InvalidToken: Invalid token")]
    InvalidToken(TokenError),
    /// SendTaskSuccess's output is not JSON or is too large.
    #[error("InvalidOutput: {0}")]
    InvalidOutput(String),
    /// The task already ended (answered, timed out, or its execution is over).
    #[error("TaskTimedOut: Task Timed Out: 'Provided task does not exist anymore'")]
    TaskTimedOut,
    /// No task here waits on this token (another worker may hold it).
    #[error("TaskDoesNotExist: Task does not exist")]
    TaskDoesNotExist,
    /// The callback topic refused the record.
    #[error("the callback could not be forwarded: {0}")]
    Forward(String),
}

enum Answer {
    Success(Value),
    Failure(Option<String>, Option<String>),
}

struct Pending {
    sender: oneshot::Sender<Answer>,
    heartbeat: Heartbeat,
}

/// How many ended tokens are remembered, and for how long (past the Express 5-minute limit).
const ENDED_CAPACITY: usize = 100_000;
const ENDED_KEEP_MS: i64 = 15 * 60 * 1000;

/// The tokens this worker's executions wait on.
pub struct CallbackRegistry {
    clock: Arc<dyn Clock>,
    keys: Arc<TaskTokenKeys>,
    pending: Mutex<HashMap<String, Pending>>,
    ended: Mutex<Ended>,
}

#[derive(Default)]
struct Ended {
    order: VecDeque<(i64, String)>,
    tokens: HashSet<String>,
}

impl Ended {
    fn add(&mut self, token: String, now_ms: i64) {
        while let Some((at, _)) = self.order.front() {
            if self.order.len() < ENDED_CAPACITY && now_ms - at < ENDED_KEEP_MS {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.tokens.remove(&old);
            }
        }
        if self.tokens.insert(token.clone()) {
            self.order.push_back((now_ms, token));
        }
    }
}

impl CallbackRegistry {
    /// A registry whose heartbeats are stamped with `clock` (the engine's clock) and whose
    /// tokens are minted and checked with `keys` (the executor mints with the same keys).
    pub fn new(clock: Arc<dyn Clock>, keys: Arc<TaskTokenKeys>) -> Arc<CallbackRegistry> {
        Arc::new(CallbackRegistry {
            clock,
            keys,
            pending: Mutex::default(),
            ended: Mutex::default(),
        })
    }

    /// The keys tokens are minted and checked with.
    pub fn keys(&self) -> &Arc<TaskTokenKeys> {
        &self.keys
    }

    /// Starts waiting on `token` for a task of `execution_arn`; the returned waiter gives up
    /// the token when dropped. A token that is not this deployment's, or not minted for this
    /// execution, is refused: a task never waits on a token it cannot be answered with.
    pub fn register(
        self: &Arc<Self>,
        token: &str,
        execution_arn: &str,
        heartbeat: Heartbeat,
    ) -> Result<Waiter, StatesError> {
        match self.keys.verify(token) {
            Ok(claims) if claims.is_for(execution_arn) => {}
            Ok(_) => {
                return Err(StatesError::runtime(
                    "The task token was minted for another execution",
                ))
            }
            Err(error) => return Err(StatesError::runtime(error.to_string())),
        }
        let (sender, receiver) = oneshot::channel();
        self.pending
            .lock()
            .expect("never poisoned")
            .insert(token.to_owned(), Pending { sender, heartbeat });
        Ok(Waiter {
            registry: self.clone(),
            token: token.to_owned(),
            receiver,
        })
    }

    /// How many tasks wait.
    pub fn waiting(&self) -> usize {
        self.pending.lock().expect("never poisoned").len()
    }

    /// The tokens waited on now (diagnostics and tests).
    pub fn waiting_tokens(&self) -> Vec<String> {
        self.pending
            .lock()
            .expect("never poisoned")
            .keys()
            .cloned()
            .collect()
    }

    /// Hands a callback to the task waiting on its token, if it waits here.
    pub fn deliver(&self, message: &CallbackMessage) -> Result<(), CallbackError> {
        let token = message.token();
        // Before any look-up: a forged token learns nothing, not even whether it waits.
        self.keys
            .verify(token)
            .map_err(CallbackError::InvalidToken)?;
        let answer = match message {
            CallbackMessage::SendTaskSuccess { output, .. } => {
                if output.len() > asl::interpret::PAYLOAD_LIMIT_BYTES {
                    return Err(CallbackError::InvalidOutput(
                        "The output exceeds 262144 bytes".into(),
                    ));
                }
                let value = serde_json::from_str(output).map_err(|_| {
                    CallbackError::InvalidOutput("The output is not valid JSON".into())
                })?;
                Answer::Success(value)
            }
            CallbackMessage::SendTaskFailure { error, cause, .. } => {
                Answer::Failure(error.clone(), cause.clone())
            }
            CallbackMessage::SendTaskHeartbeat { .. } => {
                let pending = self.pending.lock().expect("never poisoned");
                return match pending.get(token) {
                    Some(waiting) => {
                        waiting.heartbeat.beat(self.clock.now_ms());
                        Ok(())
                    }
                    None => Err(self.missing(token)),
                };
            }
        };
        let waiting = self.pending.lock().expect("never poisoned").remove(token);
        match waiting {
            Some(waiting) => {
                self.ended
                    .lock()
                    .expect("never poisoned")
                    .add(token.to_owned(), self.clock.now_ms());
                // A receiver gone at this instant means the task just ended: too late.
                waiting
                    .sender
                    .send(answer)
                    .map_err(|_| CallbackError::TaskTimedOut)
            }
            None => Err(self.missing(token)),
        }
    }

    fn missing(&self, token: &str) -> CallbackError {
        if self
            .ended
            .lock()
            .expect("never poisoned")
            .tokens
            .contains(token)
        {
            CallbackError::TaskTimedOut
        } else {
            CallbackError::TaskDoesNotExist
        }
    }

    fn release(&self, token: &str) {
        let removed = self.pending.lock().expect("never poisoned").remove(token);
        if removed.is_some() {
            self.ended
                .lock()
                .expect("never poisoned")
                .add(token.to_owned(), self.clock.now_ms());
        }
    }
}

/// One task waiting on its token.
pub struct Waiter {
    registry: Arc<CallbackRegistry>,
    token: String,
    receiver: oneshot::Receiver<Answer>,
}

impl Waiter {
    /// Resolves with SendTaskSuccess's output or SendTaskFailure's error.
    pub async fn wait(mut self) -> Result<Value, StatesError> {
        let receiver = std::mem::replace(&mut self.receiver, oneshot::channel().1);
        match receiver.await {
            Ok(Answer::Success(value)) => Ok(value),
            Ok(Answer::Failure(error, cause)) => Err(StatesError {
                // AWS leaves the name to the sender; without one the task failed plainly.
                name: error
                    .as_deref()
                    .map(ErrorName::parse)
                    .unwrap_or(ErrorName::TaskFailed),
                cause,
            }),
            Err(_) => Err(StatesError::new(
                ErrorName::TaskFailed,
                "The callback registry dropped the task",
            )),
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.registry.release(&self.token);
    }
}

/// Where callbacks go: the local registry first (the gateway and a worker in one process),
/// else the callback topic, which every worker follows.
pub struct CallbackRouter {
    /// This process's waiting tasks, if it runs executions.
    pub registry: Option<Arc<CallbackRegistry>>,
    /// The producer for the callback topic, if Kafka is configured.
    pub producer: Option<FutureProducer>,
    /// The callback topic.
    pub topic: String,
}

/// Where a callback went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// A task of this process took it.
    Local,
    /// It is on the callback topic; the worker that holds the token will take it.
    Forwarded,
}

impl CallbackRouter {
    /// Delivers locally when the token waits here (or ended here); otherwise forwards it.
    pub async fn send(&self, message: &CallbackMessage) -> Result<Routed, CallbackError> {
        if let Some(registry) = &self.registry {
            match registry.deliver(message) {
                Ok(()) => return Ok(Routed::Local),
                Err(CallbackError::TaskDoesNotExist) => {}
                Err(other) => return Err(other),
            }
        }
        let Some(producer) = &self.producer else {
            return Err(CallbackError::TaskDoesNotExist);
        };
        let value = serde_json::to_string(message).expect("a message serializes");
        let record = FutureRecord::to(&self.topic)
            .key(message.token())
            .payload(&value);
        producer
            .send(record, Timeout::Never)
            .await
            .map(|_| Routed::Forwarded)
            .map_err(|(e, _)| CallbackError::Forward(e.to_string()))
    }
}

/// The consumer of the callback topic: a group of its own per worker (every worker sees
/// every callback), starting at the end (a callback is for a task waiting now).
pub fn callback_consumer(
    brokers: &str,
    group: &str,
    overrides: &std::collections::BTreeMap<String, String>,
    topic: &str,
) -> Result<StreamConsumer, rdkafka::error::KafkaError> {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!(
                "{group}.callbacks.{}.{:08x}",
                std::process::id(),
                rand::random::<u32>()
            ),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        // Callbacks produced inside an exactly-once worker's transaction (a Kafka task
        // answering a token) count once committed; librdkafka's default, stated.
        .set("isolation.level", "read_committed");
    for (key, value) in overrides {
        client.set(key.replace('_', "."), value);
    }
    let consumer: StreamConsumer = client.create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

/// The counter of callback records dropped as not a callback or with a forged or malformed
/// token, by reason (`undecodable`, `malformed_token`, `forged_token`); the caller
/// registers it.
pub fn rejected_counter() -> IntCounterVec {
    IntCounterVec::new(
        prometheus::Opts::new(
            "quickstep_callbacks_rejected_total",
            "Callback records dropped: not a callback, or a token this deployment did not issue.",
        ),
        &["reason"],
    )
    .expect("metric names are valid")
}

/// Applies one record of the callback topic to `registry`; what it cannot trust it counts
/// in `rejected` and drops.
pub fn apply_record(registry: &CallbackRegistry, rejected: &IntCounterVec, payload: &[u8]) {
    match serde_json::from_slice::<CallbackMessage>(payload) {
        // Tokens held by other workers are the common case: not worth a log line.
        Ok(callback) => match registry.deliver(&callback) {
            Ok(()) | Err(CallbackError::TaskDoesNotExist) => {}
            Err(CallbackError::InvalidToken(reason)) => {
                rejected.with_label_values(&[reason.label()]).inc();
                // The token itself is not logged: it is a credential when it is genuine.
                tracing::warn!(message = "Callback record with an invalid token dropped.", %reason);
            }
            Err(error) => tracing::info!(message = "Callback refused.", %error),
        },
        Err(error) => {
            rejected.with_label_values(&["undecodable"]).inc();
            tracing::warn!(message = "A callback record is not a callback.", %error);
        }
    }
}

/// Follows the callback topic until `shutdown`, handing every record to `registry`.
pub async fn follow(
    consumer: StreamConsumer,
    registry: Arc<CallbackRegistry>,
    rejected: IntCounterVec,
    shutdown: CancellationToken,
) {
    let apply = |_: &str, payload: Option<&[u8]>, _: Option<i64>| {
        if let Some(payload) = payload {
            apply_record(&registry, &rejected, payload);
        }
    };
    crate::follow::read(&consumer, None, apply, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::task_token::TaskTokenSecret;

    const EXECUTION: &str = "arn:aws:states:local:000000000000:express:orders:one";
    const OTHER: &str = "arn:aws:states:local:000000000000:express:orders:two";
    const OLD: &str = "the-key-before-the-rotation-at-least-32-bytes";
    const NEW: &str = "the-key-after-the-rotation-at-least-32-bytes!";

    fn keys(current: &str, previous: Option<&str>) -> Arc<TaskTokenKeys> {
        Arc::new(
            TaskTokenKeys::from_config(
                Some(&TaskTokenSecret::new(current)),
                previous.map(TaskTokenSecret::new).as_ref(),
            )
            .expect("valid keys"),
        )
    }

    fn success(token: &str) -> CallbackMessage {
        CallbackMessage::SendTaskSuccess {
            task_token: token.into(),
            output: "\"done\"".into(),
        }
    }

    #[tokio::test]
    async fn a_token_signed_with_the_previous_key_is_answered_during_a_rotation() {
        let registry = CallbackRegistry::new(Arc::new(SystemClock), keys(NEW, Some(OLD)));
        // Minted by a process still on the old key, answered through one on the new key.
        let token = keys(OLD, None).mint(EXECUTION);
        let waiter = registry
            .register(&token, EXECUTION, Heartbeat::default())
            .expect("the previous key is accepted");
        assert_eq!(registry.deliver(&success(&token)), Ok(()));
        assert_eq!(waiter.wait().await, Ok(Value::from("done")));
        // A key that is neither current nor previous is refused before any look-up.
        let unknown = keys("a-key-nobody-here-knows-of-at-least-32-bytes", None).mint(EXECUTION);
        assert_eq!(
            registry.deliver(&success(&unknown)),
            Err(CallbackError::InvalidToken(TokenError::Forged))
        );
    }

    #[test]
    fn a_task_waits_only_on_a_token_of_its_own_execution() {
        let keys = keys(NEW, None);
        let registry = CallbackRegistry::new(Arc::new(SystemClock), keys.clone());
        let error = registry
            .register(&keys.mint(OTHER), EXECUTION, Heartbeat::default())
            .err()
            .expect("another execution's token");
        assert_eq!(error.name, ErrorName::Runtime);
        assert!(registry
            .register("token-1", EXECUTION, Heartbeat::default())
            .is_err());
        assert_eq!(registry.waiting(), 0);
    }

    #[test]
    fn forged_records_on_the_callback_topic_are_counted_and_dropped() {
        let keys = keys(NEW, None);
        let registry = CallbackRegistry::new(Arc::new(SystemClock), keys.clone());
        let rejected = rejected_counter();
        let token = keys.mint(EXECUTION);
        let _waiter = registry
            .register(&token, EXECUTION, Heartbeat::default())
            .expect("own token");
        let forged = TaskTokenKeys::ephemeral().unwrap().mint(EXECUTION);
        let record = |message: &CallbackMessage| serde_json::to_vec(message).unwrap();
        apply_record(&registry, &rejected, &record(&success(&forged)));
        apply_record(
            &registry,
            &rejected,
            &record(&success("f".repeat(64).as_str())),
        );
        apply_record(&registry, &rejected, b"not a callback");
        assert_eq!(rejected.with_label_values(&["forged_token"]).get(), 1);
        assert_eq!(rejected.with_label_values(&["malformed_token"]).get(), 1);
        assert_eq!(rejected.with_label_values(&["undecodable"]).get(), 1);
        assert_eq!(registry.waiting(), 1, "nothing reached the task");
        // Another worker's genuine token is not a rejection: it is simply not here.
        apply_record(&registry, &rejected, &record(&success(&keys.mint(OTHER))));
        apply_record(&registry, &rejected, &record(&success(&token)));
        assert_eq!(registry.waiting(), 0, "the genuine answer was delivered");
        let total: u64 = ["forged_token", "malformed_token", "undecodable"]
            .iter()
            .map(|r| rejected.with_label_values(&[r]).get())
            .sum();
        assert_eq!(total, 3);
    }
}

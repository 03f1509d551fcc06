//! `.waitForTaskToken` callbacks: the tokens this worker's executions wait on, and how
//! SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat reach them (DESIGN.md, Callbacks).
//!
//! A task registers its token before it calls anything (the callee may answer first) and
//! waits; an answer arriving through `CallbackRegistry::deliver` — from the Kafka callback
//! topic every worker follows, or from the gateway in the same process — completes it, and
//! a heartbeat calls the engine's `Heartbeat::beat`. The engine enforces TimeoutSeconds and
//! HeartbeatSeconds; when it gives up (or the execution ends) the waiter is dropped, and the
//! token is remembered as ended so a late answer gets `TaskTimedOut`, as AWS answers.

use asl::interpret::{Clock, Heartbeat};
use asl::{ErrorName, StatesError};
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
    /// The token is malformed.
    #[error("InvalidToken: Invalid token")]
    InvalidToken,
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
    /// A registry whose heartbeats are stamped with `clock` (the engine's clock).
    pub fn new(clock: Arc<dyn Clock>) -> Arc<CallbackRegistry> {
        Arc::new(CallbackRegistry {
            clock,
            pending: Mutex::default(),
            ended: Mutex::default(),
        })
    }

    /// Starts waiting on `token`; the returned waiter gives up the token when dropped.
    pub fn register(self: &Arc<Self>, token: &str, heartbeat: Heartbeat) -> Waiter {
        let (sender, receiver) = oneshot::channel();
        self.pending
            .lock()
            .expect("never poisoned")
            .insert(token.to_owned(), Pending { sender, heartbeat });
        Waiter {
            registry: self.clone(),
            token: token.to_owned(),
            receiver,
        }
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
        if token.is_empty() || token.len() > 1024 {
            return Err(CallbackError::InvalidToken);
        }
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
        .set("auto.offset.reset", "latest");
    for (key, value) in overrides {
        client.set(key.replace('_', "."), value);
    }
    let consumer: StreamConsumer = client.create()?;
    consumer.subscribe(&[topic])?;
    Ok(consumer)
}

/// Follows the callback topic until `shutdown`, handing every record to `registry`.
pub async fn follow(
    consumer: StreamConsumer,
    registry: Arc<CallbackRegistry>,
    shutdown: CancellationToken,
) {
    let apply = |_: &str, payload: Option<&[u8]>, _: Option<i64>| {
        let Some(payload) = payload else {
            return;
        };
        match serde_json::from_slice::<CallbackMessage>(payload) {
            // Tokens held by other workers are the common case: not worth a log line.
            Ok(callback) => match registry.deliver(&callback) {
                Ok(()) | Err(CallbackError::TaskDoesNotExist) => {}
                Err(error) => tracing::info!(message = "Callback refused.", %error),
            },
            Err(error) => tracing::warn!(message = "A callback record is not a callback.", %error),
        }
    };
    crate::follow::read(&consumer, None, apply, shutdown).await
}

//! The source stage: the consumer in the group that hands start records on and reports
//! rebalances (producers and topic creation are the runtime's `kafka` module). Offsets are stored explicitly
//! (the commit tracker's watermarks) and committed by librdkafka's auto-commit and on revoke.

use crate::config::WorkerConfig;
use prometheus::IntGaugeVec;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A rebalance, as the main loop needs to hear of it.
#[derive(Debug)]
pub enum RebalanceEvent {
    /// Partitions were assigned to this worker.
    Assigned(Vec<(String, i32)>),
    /// Partitions were taken away.
    Revoked(Vec<(String, i32)>),
    /// Exactly-once: partitions were assigned, with their committed offsets and metadata
    /// (read in the rebalance callback, before any of their records is fetched); an error
    /// when the broker could not say, and the worker cannot know what to skip.
    AssignedCommitted(Result<Vec<crate::transaction::Assigned>, KafkaError>),
}

/// Revokes librdkafka reported (counted in its rebalance callback) and revokes the main
/// loop has settled. Exactly-once commits only while the two are equal: a worker that wakes
/// after its session expired hears of its lost partitions through the callback, and
/// librdkafka then rejoins the group under a new generation; a commit that took the
/// consumer's group metadata after that would carry the new generation, pass the broker's
/// zombie fencing and commit outputs of records the partitions' new owner runs again. Taking
/// the metadata first and then finding no unsettled revoke means the metadata is of the
/// generation the loop knows (if a revoke comes later, the broker fences the old one).
#[derive(Debug, Default)]
pub struct Revokes {
    reported: AtomicU64,
    settled: AtomicU64,
}

impl Revokes {
    /// The loop has settled one more revoke (called as it takes the event).
    pub fn settled_one(&self) {
        self.settled.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether librdkafka has reported a revoke the loop has not settled yet.
    pub fn unsettled(&self) -> bool {
        self.reported.load(Ordering::SeqCst) != self.settled.load(Ordering::SeqCst)
    }
}

/// How often librdkafka reports its statistics, the source of the consumer lag gauge.
const STATISTICS_INTERVAL_MS: &str = "5000";

/// Forwards rebalances from librdkafka's callback to the main loop, and sets the consumer
/// lag gauge from librdkafka's statistics.
pub struct SourceContext {
    events: mpsc::UnboundedSender<RebalanceEvent>,
    /// Revokes reported by librdkafka, counted in its callback (see [`Revokes`]).
    revokes: Arc<Revokes>,
    lag: IntGaugeVec,
    /// Exactly-once: assignments come with their committed offsets.
    transactional: bool,
}

impl ClientContext for SourceContext {
    /// Lag comes from the high watermarks librdkafka already has from its fetch responses.
    /// Asking the broker (ListOffsets per partition) blocked the main loop, and under load
    /// its timeouts made librdkafka drop the broker connection, stalling every fetch.
    fn stats(&self, statistics: Statistics) {
        for (name, topic) in &statistics.topics {
            for (id, partition) in &topic.partitions {
                // -1 is librdkafka's internal "unassigned" partition; partitions not desired
                // are no longer ours.
                if *id < 0 || !partition.desired {
                    continue;
                }
                if let Some(lag) = lag(partition) {
                    self.lag
                        .with_label_values(&[name, &id.to_string()])
                        .set(lag);
                }
            }
        }
    }
}

fn partitions(list: &rdkafka::TopicPartitionList) -> Vec<(String, i32)> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            // Counted before it is sent, and before librdkafka rejoins the group under a new
            // generation: see `Revokes`.
            self.revokes.reported.fetch_add(1, Ordering::SeqCst);
            // A closed receiver means the worker is shutting down: nothing to tell.
            let _ = self.events.send(RebalanceEvent::Revoked(partitions(list)));
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) if self.transactional => {
                // Blocks this poll for a round trip: the loop must know what to skip before
                // it sees a record of these partitions.
                let committed = crate::transaction::committed_offsets(consumer, (*list).clone())
                    .map(|list| {
                        list.elements()
                            .iter()
                            .map(|e| crate::transaction::Assigned {
                                topic: e.topic().to_owned(),
                                partition: e.partition(),
                                committed: e.offset().to_raw().filter(|o| *o >= 0),
                                metadata: e.metadata().to_owned(),
                            })
                            .collect()
                    });
                let _ = self
                    .events
                    .send(RebalanceEvent::AssignedCommitted(committed));
            }
            Rebalance::Assign(list) => {
                let _ = self.events.send(RebalanceEvent::Assigned(partitions(list)));
            }
            Rebalance::Error(error) => tracing::warn!(message = "Rebalance failed.", %error),
            Rebalance::Revoke(_) => {}
        }
    }
}

/// A partition's lag from its statistics: behind the committed offset, else (nothing
/// committed yet, e.g. a new group with a backlog) behind the stored one, else behind what
/// the worker has read. `None` while librdkafka knows none of them.
fn lag(partition: &rdkafka::statistics::Partition) -> Option<i64> {
    [partition.consumer_lag, partition.consumer_lag_stored]
        .into_iter()
        .find(|lag| *lag >= 0)
        .or_else(|| {
            (partition.hi_offset >= 0 && partition.app_offset >= 0)
                .then(|| (partition.hi_offset - partition.app_offset).max(0))
        })
}

/// The consumer the worker reads start records with.
pub type SourceConsumer = StreamConsumer<SourceContext>;

/// Builds the group consumer, subscribed to every trigger topic.
pub fn consumer(
    config: &WorkerConfig,
    lag: IntGaugeVec,
) -> Result<
    (
        SourceConsumer,
        mpsc::UnboundedReceiver<RebalanceEvent>,
        Arc<Revokes>,
    ),
    KafkaError,
> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let revokes = Arc::new(Revokes::default());
    let settings = config.consumer_kafka_settings();
    let transactional = config.delivery == crate::config::Delivery::ExactlyOnce;
    let mut client = settings.client();
    client
        .set("group.id", &config.group)
        // Exactly-once commits offsets only inside its transactions.
        .set("enable.auto.commit", (!transactional).to_string())
        // Start records written in transactions (a Kafka task's) count once committed; and
        // committed offsets are read stable (KIP-447), never while a transaction holds them.
        .set("isolation.level", "read_committed")
        // Offsets are stored only when the commit tracker's watermark moves.
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        // Executions may run up to 5 minutes while partitions are paused.
        .set("max.poll.interval.ms", "600000")
        .set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
    let context = SourceContext {
        events: sender,
        revokes: revokes.clone(),
        lag,
        transactional,
    };
    let consumer: SourceConsumer = settings
        .with_overrides(client)
        .create_with_context(context)?;
    let topics: Vec<&str> = config.triggers.iter().map(|t| t.topic.as_str()).collect();
    consumer.subscribe(&topics)?;
    Ok((consumer, receiver, revokes))
}

/// The names of the topics records came from, one allocation per topic for the process's
/// life: every record's id holds its topic, and a copy of the name per record was an
/// allocation (and a free on another thread) each, a shared `Arc` a contended reference
/// count. Leaked on purpose: a consumer reads only the topics it subscribed to, a handful
/// fixed by its configuration.
#[derive(Debug, Default)]
pub struct TopicNames(Vec<&'static str>);

impl TopicNames {
    /// The shared name of `topic`. A linear search: a worker reads a handful of topics.
    pub fn get(&mut self, topic: &str) -> &'static str {
        if let Some(name) = self.0.iter().find(|name| **name == topic) {
            return name;
        }
        let name: &'static str = Box::leak(topic.into());
        self.0.push(name);
        name
    }
}

/// A start record, detached from the consumer.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// Where it came from.
    pub id: crate::idempotency::RecordId,
    /// The record key.
    pub key: Option<Vec<u8>>,
    /// The value.
    pub payload: Option<Vec<u8>>,
    /// Headers, in order; a later header of the same name wins.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The record's timestamp (epoch ms), when it has one.
    pub timestamp_ms: Option<i64>,
}

impl SourceRecord {
    /// Copies a consumed message out of librdkafka's buffer, its topic name shared through
    /// `topics`.
    pub fn from_message(message: &impl Message, topics: &mut TopicNames) -> SourceRecord {
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        SourceRecord {
            id: crate::idempotency::RecordId::new(
                topics.get(message.topic()),
                message.partition(),
                message.offset(),
            ),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
            timestamp_ms: message.timestamp().to_millis(),
        }
    }

    /// Roughly the memory the record holds, for the backlog's bound.
    pub fn size(&self) -> usize {
        const OVERHEAD: usize = std::mem::size_of::<SourceRecord>();
        OVERHEAD
            + self.id.topic.len()
            + self.key.as_ref().map_or(0, Vec::len)
            + self.payload.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(name, value)| name.len() + value.len() + 48)
                .sum::<usize>()
    }

    /// The headers a result record carries over from its start record: the trace context.
    pub const RESULT_HEADERS: [&'static str; 2] = ["traceparent", "tracestate"];

    /// Drops what no stage reads once the record runs: its value (the execution has its
    /// input) and every header but the trace context its result carries. An execution holds
    /// its record until it ends: thousands of them wait at once.
    pub fn keep_for_result(&mut self) {
        self.payload = None;
        self.headers.retain(|(key, _)| {
            Self::RESULT_HEADERS
                .iter()
                .any(|name| key.eq_ignore_ascii_case(name))
        });
        if self.headers.is_empty() {
            self.headers = Vec::new();
        } else {
            self.headers.shrink_to_fit();
        }
    }

    /// The last value of a header, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::{lag, Revokes, SourceRecord, TopicNames};
    use std::sync::atomic::Ordering;

    #[test]
    fn a_revoke_is_unsettled_from_its_report_until_the_loop_takes_it() {
        let revokes = Revokes::default();
        assert!(!revokes.unsettled());
        revokes.reported.fetch_add(1, Ordering::SeqCst);
        revokes.reported.fetch_add(1, Ordering::SeqCst);
        assert!(revokes.unsettled());
        revokes.settled_one();
        assert!(revokes.unsettled(), "one of two still unsettled");
        revokes.settled_one();
        assert!(!revokes.unsettled());
    }
    use rdkafka::statistics::Partition;

    fn partition(committed: i64, stored: i64, hi: i64, app: i64) -> Partition {
        Partition {
            consumer_lag: committed,
            consumer_lag_stored: stored,
            hi_offset: hi,
            app_offset: app,
            ..Partition::default()
        }
    }

    #[test]
    fn lag_falls_back_from_committed_to_stored_to_read() {
        assert_eq!(lag(&partition(7, 3, 100, 90)), Some(7), "committed first");
        assert_eq!(
            lag(&partition(-1, 3, 100, 90)),
            Some(3),
            "nothing committed yet"
        );
        assert_eq!(
            lag(&partition(-1, -1, 100, 90)),
            Some(10),
            "a new group with a backlog: behind what the worker has read"
        );
        assert_eq!(lag(&partition(-1, -1, 100, 120)), Some(0), "never negative");
        assert_eq!(
            lag(&partition(-1, -1, -1, 90)),
            None,
            "no high watermark yet"
        );
        assert_eq!(lag(&partition(-1, -1, 100, -1)), None, "nothing read yet");
    }

    #[test]
    fn topic_names_are_shared() {
        let mut names = TopicNames::default();
        let first = names.get("quickstep.start");
        assert!(std::ptr::eq(first, names.get("quickstep.start")));
        assert_eq!(names.get("orders"), "orders");
        assert!(!std::ptr::eq(first, names.get("orders")));
    }

    #[test]
    fn a_running_record_keeps_its_id_key_and_trace_context_only() {
        let mut record = SourceRecord {
            id: crate::idempotency::RecordId::new("t", 1, 2),
            key: Some(b"k".to_vec()),
            payload: Some(b"{}".to_vec()),
            headers: vec![
                ("quickstep-state-machine".into(), b"orders".to_vec()),
                ("TraceParent".into(), b"00-a-b-01".to_vec()),
                ("tracestate".into(), b"x=1".to_vec()),
            ],
            timestamp_ms: Some(3),
        };
        record.keep_for_result();
        assert_eq!(record.payload, None);
        assert_eq!(record.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(record.header("traceparent"), Some("00-a-b-01"));
        assert_eq!(record.header("tracestate"), Some("x=1"));
        assert_eq!(record.header("quickstep-state-machine"), None);
        assert_eq!(record.headers.capacity(), 2);
        let mut bare = SourceRecord {
            headers: vec![("quickstep-state-machine".into(), b"orders".to_vec())],
            ..record
        };
        bare.keep_for_result();
        assert_eq!(bare.headers.capacity(), 0, "nothing kept, nothing held");
    }
}

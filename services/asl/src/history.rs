//! History events with AWS's `HistoryEventType` names, and the observer they go to.
//! Ids are counted even when nobody listens (AWS error causes quote them: "entered at the
//! event id #2"), but an event's details are only built when an observer wants them.

use serde::Serialize;
use serde_json::Value;

/// Declares the event types once: the enum and its AWS spelling come from the same list.
macro_rules! history_event_types {
    ($($name:ident),* $(,)?) => {
        /// AWS's history event types, spelled as AWS spells them.
        #[allow(missing_docs)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum HistoryEventType { $($name),* }

        impl HistoryEventType {
            /// The AWS spelling: the variant's name.
            pub fn as_str(&self) -> &'static str {
                match self { $(HistoryEventType::$name => stringify!($name),)* }
            }
        }
    };
}

history_event_types!(
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionTimedOut,
    ExecutionAborted,
    PassStateEntered,
    PassStateExited,
    TaskStateEntered,
    TaskStateExited,
    TaskStateAborted,
    TaskScheduled,
    TaskStarted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    TaskSubmitted,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    WaitStateAborted,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    ParallelStateExited,
    MapStateEntered,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    MapStateExited,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    MapRunStarted,
    MapRunSucceeded,
    MapRunFailed,
    MapRunAborted,
    EvaluationFailed,
);

impl HistoryEventType {
    /// Whether the event reports an error, for the ERROR log level.
    pub fn is_error(&self) -> bool {
        use HistoryEventType::*;
        matches!(
            self,
            ExecutionFailed
                | ExecutionTimedOut
                | ExecutionAborted
                | TaskFailed
                | TaskTimedOut
                | LambdaFunctionFailed
                | LambdaFunctionTimedOut
                | ParallelStateFailed
                | MapStateFailed
                | MapIterationFailed
                | MapRunFailed
                | EvaluationFailed
                | FailStateEntered
        )
    }

    /// Whether the event ends an execution abnormally, for the FATAL log level.
    pub fn is_fatal(&self) -> bool {
        use HistoryEventType::*;
        matches!(self, ExecutionFailed | ExecutionTimedOut | ExecutionAborted)
    }
}

/// One history event: AWS's CloudWatch log shape for Express executions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEvent {
    /// 1-based, in the order the engine produced them.
    pub id: u64,
    /// The event this one follows (0 for the first).
    pub previous_event_id: u64,
    /// Milliseconds since the Unix epoch, from the execution's clock.
    pub event_timestamp_ms: i64,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: HistoryEventType,
    /// Type-specific details (`input`, `output`, `name`, `error`, `cause`, …).
    pub details: Value,
}

/// AWS's log levels: which events reach the observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// Every event.
    All,
    /// Error events only.
    Error,
    /// Execution failures only.
    Fatal,
    /// Nothing; no event is built.
    #[default]
    Off,
}

impl Level {
    /// Parses `ALL`, `ERROR`, `FATAL` or `OFF`.
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "ALL" => Some(Level::All),
            "ERROR" => Some(Level::Error),
            "FATAL" => Some(Level::Fatal),
            "OFF" => Some(Level::Off),
            _ => None,
        }
    }

    /// Whether an event of this type passes the level.
    pub fn admits(&self, event_type: HistoryEventType) -> bool {
        match self {
            Level::All => true,
            Level::Error => event_type.is_error(),
            Level::Fatal => event_type.is_fatal(),
            Level::Off => false,
        }
    }
}

/// Receives the history of one execution. Implementations must be cheap: the engine calls
/// `record` inline.
pub trait HistoryObserver: Send + Sync {
    /// Which events to build; `Level::Off` means none.
    fn level(&self) -> Level;
    /// Whether details carry `input`/`output` (AWS's `includeExecutionData`).
    fn include_execution_data(&self) -> bool;
    /// One event, in order.
    fn record(&self, event: HistoryEvent);
}

/// An observer that keeps every event in memory (tests and `quickstep run --history`).
#[derive(Debug, Default)]
pub struct Recorder {
    events: std::sync::Mutex<Vec<HistoryEvent>>,
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.events
            .lock()
            .expect("recorder lock is never poisoned")
            .clone()
    }
}

impl HistoryObserver for Recorder {
    fn level(&self) -> Level {
        Level::All
    }
    fn include_execution_data(&self) -> bool {
        true
    }
    fn record(&self, event: HistoryEvent) {
        self.events
            .lock()
            .expect("recorder lock is never poisoned")
            .push(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_aws_spelling() {
        assert_eq!(
            HistoryEventType::PassStateEntered.as_str(),
            "PassStateEntered"
        );
        assert_eq!(
            serde_json::to_value(HistoryEventType::MapIterationStarted).unwrap(),
            "MapIterationStarted"
        );
    }

    #[test]
    fn levels_filter() {
        assert!(Level::All.admits(HistoryEventType::PassStateEntered));
        assert!(!Level::Error.admits(HistoryEventType::PassStateEntered));
        assert!(Level::Error.admits(HistoryEventType::TaskFailed));
        assert!(!Level::Fatal.admits(HistoryEventType::TaskFailed));
        assert!(Level::Fatal.admits(HistoryEventType::ExecutionFailed));
        assert!(!Level::Off.admits(HistoryEventType::ExecutionFailed));
        assert_eq!(Level::parse("ERROR"), Some(Level::Error));
        assert_eq!(Level::parse("nope"), None);
    }
}

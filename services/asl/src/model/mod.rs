//! The vocabulary of a definition, shared by `validate` and `compile` so the two read one
//! schema: query languages, state types and the fields each may carry (with the language each
//! field belongs to), and the fields of a machine, a Parallel branch and a Map processor.
//! `definition` is a definition as written, typed; `read` builds it from JSON once.

use serde_json::Value;

pub(crate) mod definition;
mod read;

/// The language a state's paths and templates are written in (`QueryLanguage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryLanguage {
    JsonPath,
    Jsonata,
}

impl QueryLanguage {
    /// Reads a `QueryLanguage` field: `"JSONPath"` or `"JSONata"`, else `None`.
    pub(crate) fn parse(value: &Value) -> Option<QueryLanguage> {
        match value.as_str()? {
            "JSONPath" => Some(QueryLanguage::JsonPath),
            "JSONata" => Some(QueryLanguage::Jsonata),
            _ => None,
        }
    }
}

/// A state's `Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateType {
    Pass,
    Task,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

impl StateType {
    /// Every type, in the order AWS lists them in its diagnostics.
    pub(crate) const ALL: [StateType; 8] = [
        StateType::Pass,
        StateType::Task,
        StateType::Choice,
        StateType::Wait,
        StateType::Succeed,
        StateType::Fail,
        StateType::Parallel,
        StateType::Map,
    ];

    /// AWS's spelling, as `Type` holds it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }

    /// Reads a `Type` value; `None` for a type Step Functions does not have.
    pub(crate) fn parse(text: &str) -> Option<StateType> {
        StateType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether the type takes `Retry` and `Catch`.
    pub(crate) fn handles_errors(self) -> bool {
        matches!(self, StateType::Task | StateType::Parallel | StateType::Map)
    }
}

/// Which language a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Any,
    JsonPath,
    Jsonata,
}

/// What kind of object a (sub-)machine is: it decides the fields allowed beside StartAt/States.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Top,
    Branch,
    Processor,
}

pub(crate) const TOP_FIELDS: &[&str] = &[
    "Comment",
    "StartAt",
    "States",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];

pub(crate) const BRANCH_FIELDS: &[&str] = &["Comment", "StartAt", "States"];

pub(crate) const PROCESSOR_FIELDS: &[&str] = &["Comment", "StartAt", "States", "ProcessorConfig"];

/// Fields every state may have.
pub(crate) const COMMON_FIELDS: &[(&str, Lang)] = &[
    ("Type", Lang::Any),
    ("Comment", Lang::Any),
    ("QueryLanguage", Lang::Any),
];

/// Fields per state type, beyond [`COMMON_FIELDS`].
pub(crate) fn type_fields(state_type: StateType) -> &'static [(&'static str, Lang)] {
    use Lang::{Any, JsonPath as P, Jsonata as A};
    match state_type {
        StateType::Pass => &[
            ("Next", Any),
            ("End", Any),
            ("Assign", Any),
            ("Output", A),
            ("InputPath", P),
            ("OutputPath", P),
            ("ResultPath", P),
            ("Parameters", P),
            ("Result", P),
        ],
        StateType::Task => &[
            ("Resource", Any),
            ("Next", Any),
            ("End", Any),
            ("Assign", Any),
            ("Retry", Any),
            ("Catch", Any),
            ("TimeoutSeconds", Any),
            ("HeartbeatSeconds", Any),
            ("Credentials", Any),
            ("Output", A),
            ("Arguments", A),
            ("InputPath", P),
            ("OutputPath", P),
            ("ResultPath", P),
            ("Parameters", P),
            ("ResultSelector", P),
            ("TimeoutSecondsPath", P),
            ("HeartbeatSecondsPath", P),
        ],
        StateType::Choice => &[
            ("Choices", Any),
            ("Default", Any),
            ("Assign", Any),
            ("Output", A),
            ("InputPath", P),
            ("OutputPath", P),
        ],
        StateType::Wait => &[
            ("Next", Any),
            ("End", Any),
            ("Assign", Any),
            ("Seconds", Any),
            ("Timestamp", Any),
            ("Output", A),
            ("SecondsPath", P),
            ("TimestampPath", P),
            ("InputPath", P),
            ("OutputPath", P),
        ],
        StateType::Succeed => &[("Output", A), ("InputPath", P), ("OutputPath", P)],
        StateType::Fail => &[
            ("Error", Any),
            ("Cause", Any),
            ("ErrorPath", P),
            ("CausePath", P),
        ],
        StateType::Parallel => &[
            ("Branches", Any),
            ("Next", Any),
            ("End", Any),
            ("Assign", Any),
            ("Retry", Any),
            ("Catch", Any),
            ("Output", A),
            ("Arguments", A),
            ("InputPath", P),
            ("OutputPath", P),
            ("ResultPath", P),
            ("Parameters", P),
            ("ResultSelector", P),
        ],
        StateType::Map => &[
            ("ItemProcessor", Any),
            ("Iterator", Any),
            ("ItemReader", Any),
            ("ItemSelector", Any),
            ("ItemBatcher", Any),
            ("ResultWriter", Any),
            ("MaxConcurrency", Any),
            ("ToleratedFailureCount", Any),
            ("ToleratedFailurePercentage", Any),
            ("Label", Any),
            ("Next", Any),
            ("End", Any),
            ("Assign", Any),
            ("Retry", Any),
            ("Catch", Any),
            ("Items", A),
            ("Output", A),
            ("InputPath", P),
            ("OutputPath", P),
            ("ResultPath", P),
            ("Parameters", P),
            ("ResultSelector", P),
            ("ItemsPath", P),
            ("MaxConcurrencyPath", P),
            ("ToleratedFailureCountPath", P),
            ("ToleratedFailurePercentagePath", P),
        ],
    }
}

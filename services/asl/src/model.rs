//! The vocabulary of a definition, shared by `validate` and `compile` so the two read one
//! schema: query languages, state types and the fields each may carry (with the language each
//! field belongs to), and the fields of a machine, a Parallel branch and a Map processor.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryLanguage {
    JsonPath,
    Jsonata,
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

pub(crate) const STATE_TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Fields every state may have.
pub(crate) const COMMON_FIELDS: &[(&str, Lang)] = &[
    ("Type", Lang::Any),
    ("Comment", Lang::Any),
    ("QueryLanguage", Lang::Any),
];

/// Fields per state type, beyond [`COMMON_FIELDS`].
pub(crate) fn type_fields(state_type: &str) -> &'static [(&'static str, Lang)] {
    use Lang::{Any, JsonPath as P, Jsonata as A};
    match state_type {
        "Pass" => &[
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
        "Task" => &[
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
        "Choice" => &[
            ("Choices", Any),
            ("Default", Any),
            ("Assign", Any),
            ("Output", A),
            ("InputPath", P),
            ("OutputPath", P),
        ],
        "Wait" => &[
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
        "Succeed" => &[("Output", A), ("InputPath", P), ("OutputPath", P)],
        "Fail" => &[
            ("Error", Any),
            ("Cause", Any),
            ("ErrorPath", P),
            ("CausePath", P),
        ],
        "Parallel" => &[
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
        "Map" => &[
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
        _ => &[],
    }
}

//! ASL errors as values: `ErrorName` has a variant per predefined `States.*` name plus
//! `Custom`, and `StatesError` pairs a name with its cause. Retry and Catch match on the
//! enum (`ErrorName::matches`), never on message text.

use std::fmt;

/// The name of an error as ASL sees it: a predefined `States.*` error or a custom one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorName {
    /// `States.ALL`: only meaningful in `ErrorEquals`, where it matches (almost) everything.
    All,
    /// `States.HeartbeatTimeout`: a task sent no heartbeat within `HeartbeatSeconds`.
    HeartbeatTimeout,
    /// `States.Timeout`: a task ran longer than `TimeoutSeconds`, or the execution timed out.
    Timeout,
    /// `States.TaskFailed`: a task failed; matches every task failure except `States.Timeout`.
    TaskFailed,
    /// `States.Permissions`: insufficient privileges.
    Permissions,
    /// `States.ResultPathMatchFailure`: `ResultPath` cannot be applied to the input.
    ResultPathMatchFailure,
    /// `States.ParameterPathFailure`: a `.$` field's path does not match the input.
    ParameterPathFailure,
    /// `States.BranchFailed`: a Parallel or Map branch failed.
    BranchFailed,
    /// `States.NoChoiceMatched`: no Choice rule matched and there is no Default.
    NoChoiceMatched,
    /// `States.IntrinsicFailure`: an intrinsic function failed.
    IntrinsicFailure,
    /// `States.ExceedToleratedFailureThreshold`: a distributed Map exceeded its tolerance.
    ExceedToleratedFailureThreshold,
    /// `States.ItemReaderFailed`.
    ItemReaderFailed,
    /// `States.ResultWriterFailed`.
    ResultWriterFailed,
    /// `States.Runtime`: an unrecoverable runtime error; no Retry or Catch sees it.
    Runtime,
    /// `States.DataLimitExceeded`: a payload exceeded 262,144 bytes.
    DataLimitExceeded,
    /// `States.QueryEvaluationError`: a JSONata expression failed.
    QueryEvaluationError,
    /// Any other name: a task's own error type, a Fail state's `Error`, `States.Http.StatusCode.404`, …
    Custom(String),
}

/// Every predefined name with its AWS spelling: the one table `parse` and `as_str` read.
const PREDEFINED: &[(ErrorName, &str)] = &[
    (ErrorName::All, "States.ALL"),
    (ErrorName::HeartbeatTimeout, "States.HeartbeatTimeout"),
    (ErrorName::Timeout, "States.Timeout"),
    (ErrorName::TaskFailed, "States.TaskFailed"),
    (ErrorName::Permissions, "States.Permissions"),
    (
        ErrorName::ResultPathMatchFailure,
        "States.ResultPathMatchFailure",
    ),
    (
        ErrorName::ParameterPathFailure,
        "States.ParameterPathFailure",
    ),
    (ErrorName::BranchFailed, "States.BranchFailed"),
    (ErrorName::NoChoiceMatched, "States.NoChoiceMatched"),
    (ErrorName::IntrinsicFailure, "States.IntrinsicFailure"),
    (
        ErrorName::ExceedToleratedFailureThreshold,
        "States.ExceedToleratedFailureThreshold",
    ),
    (ErrorName::ItemReaderFailed, "States.ItemReaderFailed"),
    (ErrorName::ResultWriterFailed, "States.ResultWriterFailed"),
    (ErrorName::Runtime, "States.Runtime"),
    (ErrorName::DataLimitExceeded, "States.DataLimitExceeded"),
    (
        ErrorName::QueryEvaluationError,
        "States.QueryEvaluationError",
    ),
];

impl ErrorName {
    /// Reads a name as written in a definition or reported by a task.
    pub fn parse(name: &str) -> ErrorName {
        PREDEFINED
            .iter()
            .find(|(_, spelling)| *spelling == name)
            .map(|(known, _)| known.clone())
            .unwrap_or_else(|| ErrorName::Custom(name.to_owned()))
    }

    /// The AWS spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorName::Custom(name) => name,
            known => {
                PREDEFINED
                    .iter()
                    .find(|(k, _)| k == known)
                    .expect("every predefined variant is in PREDEFINED")
                    .1
            }
        }
    }

    /// True for the `States.` names that AWS reserves.
    pub fn is_predefined(&self) -> bool {
        !matches!(self, ErrorName::Custom(_))
    }

    /// Whether a Retrier or Catcher listing `self` in `ErrorEquals` handles `error`.
    ///
    /// `States.ALL` matches every error except `States.Runtime`; AWS's recordings show it
    /// catching `States.DataLimitExceeded` (conformance: `test_start_large_input`) and show
    /// `States.Runtime` escaping even a `Catch ["States.Runtime"]`
    /// (`scenarios.test_base_scenarios::TestBaseScenarios::test_catch_states_runtime`).
    /// `States.TaskFailed` matches any task failure except `States.Timeout`.
    pub fn matches(&self, error: &ErrorName) -> bool {
        if *error == ErrorName::Runtime {
            return false;
        }
        match self {
            ErrorName::All => true,
            ErrorName::TaskFailed => {
                !matches!(error, ErrorName::Timeout | ErrorName::HeartbeatTimeout)
                    && !error.is_engine_error()
            }
            listed => listed == error,
        }
    }

    /// Errors the engine itself raises about data flow, not a task: `States.TaskFailed`
    /// does not stand for these.
    fn is_engine_error(&self) -> bool {
        matches!(
            self,
            ErrorName::ResultPathMatchFailure
                | ErrorName::ParameterPathFailure
                | ErrorName::BranchFailed
                | ErrorName::NoChoiceMatched
                | ErrorName::IntrinsicFailure
                | ErrorName::ExceedToleratedFailureThreshold
                | ErrorName::QueryEvaluationError
                | ErrorName::DataLimitExceeded
        )
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A catchable ASL error: a name and an optional cause, as a Catch's error output shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct StatesError {
    /// What went wrong, as `ErrorEquals` matches it.
    pub name: ErrorName,
    /// The human-readable cause; `None` when the error carries none.
    pub cause: Option<String>,
}

impl StatesError {
    /// An error with a cause.
    pub fn new(name: ErrorName, cause: impl Into<String>) -> Self {
        StatesError {
            name,
            cause: Some(cause.into()),
        }
    }

    /// An error without a cause.
    pub fn bare(name: ErrorName) -> Self {
        StatesError { name, cause: None }
    }

    /// `States.Runtime` with a cause.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(ErrorName::Runtime, cause)
    }

    /// `States.IntrinsicFailure` with a cause.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(ErrorName::IntrinsicFailure, cause)
    }

    /// `States.DataLimitExceeded` with a cause.
    pub fn data_limit(cause: impl Into<String>) -> Self {
        Self::new(ErrorName::DataLimitExceeded, cause)
    }

    /// The error output a Catch hands on: `{"Error": name, "Cause": cause}` (Cause omitted when none).
    pub fn to_output(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("Error".into(), self.name.as_str().into());
        if let Some(cause) = &self.cause {
            map.insert("Cause".into(), cause.clone().into());
        }
        serde_json::Value::Object(map)
    }
}

impl fmt::Display for StatesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {}", self.name, cause),
            None => write!(f, "{}", self.name),
        }
    }
}

impl std::error::Error for StatesError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, spelling) in PREDEFINED {
            assert_eq!(ErrorName::parse(spelling), *name);
            assert_eq!(name.as_str(), *spelling);
        }
        assert_eq!(
            ErrorName::parse("MyError"),
            ErrorName::Custom("MyError".into())
        );
        assert_eq!(
            ErrorName::parse("States.Http.StatusCode.404").as_str(),
            "States.Http.StatusCode.404"
        );
    }

    #[test]
    fn all_matches_everything_but_runtime() {
        assert!(ErrorName::All.matches(&ErrorName::Custom("X".into())));
        assert!(ErrorName::All.matches(&ErrorName::DataLimitExceeded));
        assert!(ErrorName::All.matches(&ErrorName::Timeout));
        assert!(!ErrorName::All.matches(&ErrorName::Runtime));
        assert!(!ErrorName::Runtime.matches(&ErrorName::Runtime));
    }

    #[test]
    fn task_failed_matches_task_errors_not_timeouts() {
        assert!(ErrorName::TaskFailed.matches(&ErrorName::Custom("Lambda.Unknown".into())));
        assert!(ErrorName::TaskFailed.matches(&ErrorName::TaskFailed));
        assert!(!ErrorName::TaskFailed.matches(&ErrorName::Timeout));
        assert!(!ErrorName::TaskFailed.matches(&ErrorName::HeartbeatTimeout));
        assert!(!ErrorName::TaskFailed.matches(&ErrorName::NoChoiceMatched));
    }

    #[test]
    fn error_output_omits_missing_cause() {
        let bare = StatesError::bare(ErrorName::NoChoiceMatched).to_output();
        assert_eq!(bare, serde_json::json!({"Error": "States.NoChoiceMatched"}));
        let full = StatesError::new(ErrorName::Custom("E".into()), "c").to_output();
        assert_eq!(full, serde_json::json!({"Error": "E", "Cause": "c"}));
    }
}

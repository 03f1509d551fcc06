//! Static checks of a state machine definition, the way AWS's `ValidateStateMachineDefinition`
//! and `CreateStateMachine` judge one: every problem found (not only the first), in document
//! order, each with AWS's diagnostic code, a message naming the culprit and a JSON pointer.
//!
//! The checks are table-driven where the language is: one table of fields per state type (with
//! the query language each field belongs to) and one table of Choice comparison operators.

use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

mod choice;
mod duplicate_keys;
mod fields;
mod machine;
mod states;
#[cfg(test)]
#[rustfmt::skip]
mod tests;

use crate::model::definition::StateMachine;
use crate::model::{QueryLanguage, Scope};
use duplicate_keys::duplicate_keys;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The definition cannot be created.
    Error,
    /// Worth a look; the definition is still accepted.
    Warning,
}

impl Severity {
    /// AWS's spelling: `ERROR` or `WARNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// AWS's diagnostic codes (the documented set plus `MISSING_TRANSITION_TARGET`, which
/// CreateStateMachine reports for dangling and unreachable states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiagnosticCode {
    /// `INVALID_JSON_DESCRIPTION`: the definition is not JSON.
    InvalidJsonDescription,
    /// `MISSING_DESCRIPTION`: no definition at all.
    MissingDescription,
    /// `SCHEMA_VALIDATION_FAILED`: a field is missing, unknown, misplaced or of the wrong shape.
    SchemaValidationFailed,
    /// `INVALID_RESOURCE`: a Task's `Resource` is not a usable ARN.
    InvalidResource,
    /// `MISSING_END_STATE`: a (sub-)machine has no terminal state.
    MissingEndState,
    /// `DUPLICATE_STATE_NAME`: a state name is used twice in the machine.
    DuplicateStateName,
    /// `INVALID_STATE_NAME`: a state name breaks the naming rules.
    InvalidStateName,
    /// `MISSING_TRANSITION_TARGET`: a transition names no state, or a state is unreachable.
    MissingTransitionTarget,
    /// `NO_DOLLAR` (warning): a value looks like a path but its field name lacks `.$`.
    NoDollar,
    /// `NO_PATH` (warning): a value looks like a path but its field name lacks `Path`.
    NoPath,
    /// `PASS_RESULT_IS_STATIC` (warning): a Pass state's `Result` uses a path.
    PassResultIsStatic,
}

/// Every code with its AWS spelling: the one table `as_str` reads.
pub(crate) const CODES: &[(DiagnosticCode, &str)] = &[
    (
        DiagnosticCode::InvalidJsonDescription,
        "INVALID_JSON_DESCRIPTION",
    ),
    (DiagnosticCode::MissingDescription, "MISSING_DESCRIPTION"),
    (
        DiagnosticCode::SchemaValidationFailed,
        "SCHEMA_VALIDATION_FAILED",
    ),
    (DiagnosticCode::InvalidResource, "INVALID_RESOURCE"),
    (DiagnosticCode::MissingEndState, "MISSING_END_STATE"),
    (DiagnosticCode::DuplicateStateName, "DUPLICATE_STATE_NAME"),
    (DiagnosticCode::InvalidStateName, "INVALID_STATE_NAME"),
    (
        DiagnosticCode::MissingTransitionTarget,
        "MISSING_TRANSITION_TARGET",
    ),
    (DiagnosticCode::NoDollar, "NO_DOLLAR"),
    (DiagnosticCode::NoPath, "NO_PATH"),
    (DiagnosticCode::PassResultIsStatic, "PASS_RESULT_IS_STATIC"),
];

impl DiagnosticCode {
    /// AWS's spelling, e.g. `SCHEMA_VALIDATION_FAILED`.
    pub fn as_str(self) -> &'static str {
        CODES
            .iter()
            .find(|(code, _)| *code == self)
            .map(|(_, s)| *s)
            .unwrap_or("SCHEMA_VALIDATION_FAILED")
    }

    /// Reads AWS's spelling back.
    pub fn parse(text: &str) -> Option<DiagnosticCode> {
        CODES
            .iter()
            .find(|(_, s)| *s == text)
            .map(|(code, _)| *code)
    }
}

impl fmt::Display for DiagnosticCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// AWS's code.
    pub code: DiagnosticCode,
    /// What is wrong, naming the culprit.
    pub message: String,
    /// A JSON pointer into the definition (`/` for the root, `/States/A/Next`); empty when AWS
    /// gives no location (a definition that is not a JSON object).
    pub location: String,
    /// Ours, not AWS's: the offending value, named where AWS's `message` does not name it
    /// (`'Teleport' is not a state type`). Never part of an API answer or of `Display`;
    /// `quickstep validate` prints it on a line of its own.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    /// `CODE: message at /location`, as AWS writes it inside an InvalidDefinition message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if !self.location.is_empty() {
            write!(f, " at {}", self.location)?;
        }
        Ok(())
    }
}

/// The type of state machine a definition is checked for: Express machines reject activities
/// and the `.sync` / `.waitForTaskToken` integration patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MachineType {
    /// `STANDARD` (AWS's default).
    #[default]
    Standard,
    /// `EXPRESS`.
    Express,
}

/// Checks a definition as a STANDARD machine. Returns every diagnostic (errors and warnings)
/// in document order; the definition is acceptable when none is an error (see [`has_errors`]).
pub fn validate(definition: &Value) -> Vec<Diagnostic> {
    validate_for(definition, MachineType::Standard)
}

/// Checks a definition for the given machine type.
pub fn validate_for(definition: &Value, machine_type: MachineType) -> Vec<Diagnostic> {
    let mut diagnostics = validate_model(StateMachine::read(definition).as_ref(), machine_type);
    value_hints(definition, &mut diagnostics);
    diagnostics
}

/// The hint of last resort: where a diagnostic points at a scalar that neither its message nor
/// a more specific hint names, the hint quotes it (`the value here is 'INLIN'`).
fn value_hints(definition: &Value, diagnostics: &mut [Diagnostic]) {
    /// Longer values are cut: a hint is one line.
    const SHOWN_CHARS: usize = 120;
    for d in diagnostics.iter_mut().filter(|d| d.hint.is_none()) {
        let Some(value) = definition.pointer(&d.location) else {
            continue;
        };
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) | Value::Null => value.to_string(),
            Value::Array(_) | Value::Object(_) => continue,
        };
        // A JSONata expression is named by its text between `{%` and `%}`.
        let named = fields::expression_text(&text).unwrap_or(&text);
        if names(&d.message, named) {
            continue;
        }
        let mut shown = quoted(value);
        if shown.chars().count() > SHOWN_CHARS {
            shown = shown.chars().take(SHOWN_CHARS).collect::<String>() + "…";
        }
        d.hint = Some(format!("the value here is {shown}"));
    }
}

/// Checks a definition already read into the model (`None`: it is not a JSON object).
pub(crate) fn validate_model(
    model: Option<&StateMachine>,
    machine_type: MachineType,
) -> Vec<Diagnostic> {
    let mut v = Validator {
        diags: Vec::new(),
        machine_type,
        top_ql: QueryLanguage::JsonPath,
        names: HashSet::new(),
    };
    let Some(model) = model else {
        v.error(
            DiagnosticCode::SchemaValidationFailed,
            "",
            "Definition must be a valid JSON object".into(),
        );
        return v.diags;
    };
    v.machine(model, "", 0, Scope::Top);
    v.diags
}

/// Parses definition text, then checks it as a STANDARD machine.
pub fn validate_text(text: &str) -> Vec<Diagnostic> {
    validate_text_for(text, MachineType::Standard)
}

/// Parses definition text, then checks it for the given machine type. Text that is not JSON is
/// `INVALID_JSON_DESCRIPTION`; blank text or JSON that is not an object is what AWS answers.
/// Keys repeated inside one object (which a parsed `Value` cannot show) are reported too:
/// repeated state names as `DUPLICATE_STATE_NAME`, other fields as `SCHEMA_VALIDATION_FAILED`.
pub fn validate_text_for(text: &str, machine_type: MachineType) -> Vec<Diagnostic> {
    if text.trim().is_empty() {
        return vec![Diagnostic {
            severity: Severity::Error,
            code: DiagnosticCode::SchemaValidationFailed,
            message: "Definition must be a valid JSON object".into(),
            location: String::new(),
            hint: None,
        }];
    }
    match serde_json::from_str::<Value>(text) {
        Err(e) => vec![Diagnostic {
            severity: Severity::Error,
            code: DiagnosticCode::InvalidJsonDescription,
            message: e.to_string(),
            location: String::new(),
            hint: None,
        }],
        Ok(value) => {
            let mut diags = duplicate_keys(text);
            diags.extend(validate_for(&value, machine_type));
            diags
        }
    }
}

/// True when any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}

/// The message CreateStateMachine gives with `InvalidDefinition`: the errors (warnings left
/// out) as `CODE: message at location`, joined by `, `, quoted after AWS's prefix.
pub fn aws_message(diagnostics: &[Diagnostic]) -> String {
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    format!("Invalid State Machine Definition: '{}'", errors.join(", "))
}

/// Deepest nesting of Parallel branches / Map processors accepted.
pub const MAX_DEPTH: usize = 64;

/// Deepest nesting inside payload templates and Choice rules that is walked.
pub(crate) const MAX_VALUE_DEPTH: usize = 256;

/// Longest state name AWS accepts.
pub(crate) const MAX_STATE_NAME: usize = 80;

/// A JSON pointer one step further (RFC 6901 escaping).
pub(crate) fn child(ptr: &str, segment: &str) -> String {
    format!("{ptr}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// The pointer AWS prints: the root is `/`.
pub(crate) fn shown(ptr: &str) -> String {
    if ptr.is_empty() {
        "/".into()
    } else {
        ptr.into()
    }
}

pub(crate) struct Validator {
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) machine_type: MachineType,
    pub(crate) top_ql: QueryLanguage,
    /// Every state name seen so far, machine-wide.
    pub(crate) names: HashSet<String>,
}

pub(crate) struct StateInfo<'a> {
    pub(crate) targets: Vec<&'a str>,
    pub(crate) terminal: bool,
}

/// Whether `text` is a timestamp Step Functions accepts (RFC 3339, upper-case `T`): the same
/// check the interpreter applies at run time.
pub fn is_rfc3339(text: &str) -> bool {
    crate::timestamp::parse(text).is_some()
}

impl Validator {
    pub(crate) fn push(
        &mut self,
        severity: Severity,
        code: DiagnosticCode,
        ptr: &str,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            severity,
            code,
            message,
            location: shown(ptr),
            hint: None,
        });
    }

    /// Names the offending value under the diagnostic just pushed (see `Diagnostic::hint`).
    pub(crate) fn hint(&mut self, hint: String) {
        if let Some(last) = self.diags.last_mut() {
            last.hint = Some(hint);
        }
    }

    pub(crate) fn error(&mut self, code: DiagnosticCode, ptr: &str, message: String) {
        self.push(Severity::Error, code, ptr, message);
    }

    pub(crate) fn schema(&mut self, ptr: &str, message: String) {
        self.error(DiagnosticCode::SchemaValidationFailed, ptr, message);
    }

    pub(crate) fn unsupported(&mut self, ptr: &str, field: &str) {
        self.schema(
            ptr,
            format!("The field '{field}' is not supported by Step Functions"),
        );
    }

    /// `unsupported`, with a hint naming the closest of the `known` fields, if one is close.
    pub(crate) fn unsupported_among<'k>(
        &mut self,
        ptr: &str,
        field: &str,
        known: impl IntoIterator<Item = &'k str>,
    ) {
        self.unsupported(ptr, field);
        if let Some(near) = closest(field, known) {
            self.hint(format!(
                "'{field}' is not a field here; did you mean '{near}'?"
            ));
        }
    }

    pub(crate) fn required(&mut self, ptr: &str, missing: &[&str]) {
        if !missing.is_empty() {
            self.schema(
                ptr,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
    }
}

/// A value as a hint quotes it: a string in single quotes, anything else as JSON.
pub(crate) fn quoted(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// The candidate nearest to `word` (case-insensitive edit distance at most 2, and less
/// than half its length), for "did you mean" hints.
pub(crate) fn closest<'k>(
    word: &str,
    candidates: impl IntoIterator<Item = &'k str>,
) -> Option<&'k str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= 2 && *d * 2 < word.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Whether `message` names `value` as a whole word (`INLIN` is not named by `INLINE`).
fn names(message: &str, value: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    message.match_indices(value).any(|(at, _)| {
        !word(message[..at].chars().next_back())
            && !word(message[at + value.len()..].chars().next())
    })
}

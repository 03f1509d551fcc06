//! Static checks of a state machine definition, the way AWS's `ValidateStateMachineDefinition`
//! and `CreateStateMachine` judge one: every problem found (not only the first), in document
//! order, each with AWS's diagnostic code, a message naming the culprit and a JSON pointer.
//!
//! The checks are table-driven where the language is: one table of fields per state type (with
//! the query language each field belongs to) and one table of Choice comparison operators.

use crate::intrinsics::{looks_like_call, Call};
use crate::path::Path;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

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
const CODES: &[(DiagnosticCode, &str)] = &[
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
    let mut v = Validator {
        diags: Vec::new(),
        machine_type,
        top_ql: QueryLanguage::JsonPath,
        names: HashSet::new(),
    };
    if !definition.is_object() {
        v.error(
            DiagnosticCode::SchemaValidationFailed,
            "",
            "Definition must be a valid JSON object".into(),
        );
        return v.diags;
    }
    v.machine(definition, "", 0, Scope::Top);
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
        }];
    }
    match serde_json::from_str::<Value>(text) {
        Err(e) => vec![Diagnostic {
            severity: Severity::Error,
            code: DiagnosticCode::InvalidJsonDescription,
            message: e.to_string(),
            location: String::new(),
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
const MAX_VALUE_DEPTH: usize = 256;
/// Longest state name AWS accepts.
const MAX_STATE_NAME: usize = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryLanguage {
    JsonPath,
    Jsonata,
}

/// Which language a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Any,
    JsonPath,
    Jsonata,
}

/// What kind of object a (sub-)machine is: it decides the fields allowed beside StartAt/States.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Top,
    Branch,
    Processor,
}

const TOP_FIELDS: &[&str] = &[
    "Comment",
    "StartAt",
    "States",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];
const BRANCH_FIELDS: &[&str] = &["Comment", "StartAt", "States"];
const PROCESSOR_FIELDS: &[&str] = &["Comment", "StartAt", "States", "ProcessorConfig"];

const STATE_TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Fields every state may have.
const COMMON_FIELDS: &[(&str, Lang)] = &[
    ("Type", Lang::Any),
    ("Comment", Lang::Any),
    ("QueryLanguage", Lang::Any),
];

/// Fields per state type, beyond [`COMMON_FIELDS`].
fn type_fields(state_type: &str) -> &'static [(&'static str, Lang)] {
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

/// What a Choice comparison operator compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    Str,
    Num,
    Bool,
    Timestamp,
    Path,
    Test,
}

const OPERATORS: &[(&str, Operand)] = &[
    ("StringEquals", Operand::Str),
    ("StringEqualsPath", Operand::Path),
    ("StringLessThan", Operand::Str),
    ("StringLessThanPath", Operand::Path),
    ("StringGreaterThan", Operand::Str),
    ("StringGreaterThanPath", Operand::Path),
    ("StringLessThanEquals", Operand::Str),
    ("StringLessThanEqualsPath", Operand::Path),
    ("StringGreaterThanEquals", Operand::Str),
    ("StringGreaterThanEqualsPath", Operand::Path),
    ("StringMatches", Operand::Str),
    ("NumericEquals", Operand::Num),
    ("NumericEqualsPath", Operand::Path),
    ("NumericLessThan", Operand::Num),
    ("NumericLessThanPath", Operand::Path),
    ("NumericGreaterThan", Operand::Num),
    ("NumericGreaterThanPath", Operand::Path),
    ("NumericLessThanEquals", Operand::Num),
    ("NumericLessThanEqualsPath", Operand::Path),
    ("NumericGreaterThanEquals", Operand::Num),
    ("NumericGreaterThanEqualsPath", Operand::Path),
    ("BooleanEquals", Operand::Bool),
    ("BooleanEqualsPath", Operand::Path),
    ("TimestampEquals", Operand::Timestamp),
    ("TimestampEqualsPath", Operand::Path),
    ("TimestampLessThan", Operand::Timestamp),
    ("TimestampLessThanPath", Operand::Path),
    ("TimestampGreaterThan", Operand::Timestamp),
    ("TimestampGreaterThanPath", Operand::Path),
    ("TimestampLessThanEquals", Operand::Timestamp),
    ("TimestampLessThanEqualsPath", Operand::Path),
    ("TimestampGreaterThanEquals", Operand::Timestamp),
    ("TimestampGreaterThanEqualsPath", Operand::Path),
    ("IsNull", Operand::Test),
    ("IsPresent", Operand::Test),
    ("IsNumeric", Operand::Test),
    ("IsString", Operand::Test),
    ("IsBoolean", Operand::Test),
    ("IsTimestamp", Operand::Test),
];

/// A JSON pointer one step further (RFC 6901 escaping).
fn child(ptr: &str, segment: &str) -> String {
    format!("{ptr}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// The pointer AWS prints: the root is `/`.
fn shown(ptr: &str) -> String {
    if ptr.is_empty() {
        "/".into()
    } else {
        ptr.into()
    }
}

/// Fields of JSONata states that take one value, which may be a `{% %}` expression.
const JSONATA_SCALAR_FIELDS: [&str; 9] = [
    "Error",
    "Cause",
    "Seconds",
    "Timestamp",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];

fn is_jsonata_expr(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        let t = s.trim();
        t.starts_with("{%") && t.ends_with("%}")
    })
}

fn int_value(v: &Value) -> Option<i64> {
    v.as_i64()
}

struct Validator {
    diags: Vec<Diagnostic>,
    machine_type: MachineType,
    top_ql: QueryLanguage,
    /// Every state name seen so far, machine-wide.
    names: HashSet<String>,
}

impl Validator {
    fn push(&mut self, severity: Severity, code: DiagnosticCode, ptr: &str, message: String) {
        self.diags.push(Diagnostic {
            severity,
            code,
            message,
            location: shown(ptr),
        });
    }

    fn error(&mut self, code: DiagnosticCode, ptr: &str, message: String) {
        self.push(Severity::Error, code, ptr, message);
    }

    fn schema(&mut self, ptr: &str, message: String) {
        self.error(DiagnosticCode::SchemaValidationFailed, ptr, message);
    }

    fn unsupported(&mut self, ptr: &str, field: &str) {
        self.schema(
            ptr,
            format!("The field '{field}' is not supported by Step Functions"),
        );
    }

    fn required(&mut self, ptr: &str, missing: &[&str]) {
        if !missing.is_empty() {
            self.schema(
                ptr,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
    }

    /// A (sub-)machine: StartAt, States, its fields, its states, reachability.
    fn machine(&mut self, def: &Value, ptr: &str, depth: usize, scope: Scope) {
        if depth > MAX_DEPTH {
            self.schema(
                ptr,
                format!("State machine nesting exceeds the maximum depth of {MAX_DEPTH}"),
            );
            return;
        }
        let Some(obj) = def.as_object() else {
            self.schema(ptr, "Value must be an object".into());
            return;
        };
        let missing: Vec<&str> = ["States", "StartAt"]
            .into_iter()
            .filter(|f| !obj.contains_key(*f))
            .collect();
        self.required(ptr, &missing);

        let allowed = match scope {
            Scope::Top => TOP_FIELDS,
            Scope::Branch => BRANCH_FIELDS,
            Scope::Processor => PROCESSOR_FIELDS,
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.unsupported(ptr, key);
            }
        }
        if scope == Scope::Top {
            if let Some(ql) = obj.get("QueryLanguage") {
                match ql.as_str() {
                    Some("JSONPath") => self.top_ql = QueryLanguage::JsonPath,
                    Some("JSONata") => self.top_ql = QueryLanguage::Jsonata,
                    _ => self.schema(
                        &child(ptr, "QueryLanguage"),
                        "The value for the field 'QueryLanguage' must be one of: [JSONPath, JSONata]".into(),
                    ),
                }
            }
            if let Some(v) = obj.get("Version") {
                if !v.is_string() {
                    self.schema(
                        &child(ptr, "Version"),
                        "The value for the field 'Version' must be a STRING".into(),
                    );
                }
            }
            if let Some(v) = obj.get("TimeoutSeconds") {
                if !int_value(v).is_some_and(|n| (1..=99_999_999).contains(&n)) {
                    self.schema(
                        &child(ptr, "TimeoutSeconds"),
                        "The value for the field 'TimeoutSeconds' must be a positive integer"
                            .into(),
                    );
                }
            }
        }
        if let Some(c) = obj.get("Comment") {
            if !c.is_string() {
                self.schema(
                    &child(ptr, "Comment"),
                    "The value for the field 'Comment' must be a STRING".into(),
                );
            }
        }
        if scope == Scope::Processor {
            if let Some(pc) = obj.get("ProcessorConfig") {
                self.processor_config(pc, &child(ptr, "ProcessorConfig"));
            }
        }

        let states_ptr = child(ptr, "States");
        let states = match obj.get("States") {
            None => None,
            Some(Value::Object(states)) if states.is_empty() => {
                self.schema(&states_ptr, "Value cannot be empty".into());
                None
            }
            Some(Value::Object(states)) => Some(states),
            Some(_) => {
                self.schema(
                    &states_ptr,
                    "The value for the field 'States' must be an OBJECT".into(),
                );
                None
            }
        };
        let start = match obj.get("StartAt") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.schema(
                    &child(ptr, "StartAt"),
                    "The value for the field 'StartAt' must be a STRING".into(),
                );
                None
            }
        };
        let Some(states) = states else { return };
        if let Some(start) = start {
            if !states.contains_key(start) {
                self.error(
                    DiagnosticCode::MissingTransitionTarget,
                    &child(ptr, "StartAt"),
                    format!("Missing 'StartAt' target: {start}"),
                );
            }
        }

        let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut terminal = false;
        for (name, state) in states {
            let sptr = child(&states_ptr, name);
            self.state_name(name, &sptr);
            let info = self.state(state, &sptr, states, depth);
            terminal |= info.terminal;
            edges.insert(name.as_str(), info.targets);
        }
        if !terminal {
            self.error(
                DiagnosticCode::MissingEndState,
                ptr,
                "Workflow has no terminal state".into(),
            );
        }
        if let Some(start) = start.filter(|s| states.contains_key(*s)) {
            let mut reached: HashSet<&str> = HashSet::from([start]);
            let mut queue = VecDeque::from([start]);
            while let Some(at) = queue.pop_front() {
                for &next in edges.get(at).map(Vec::as_slice).unwrap_or_default() {
                    if states.contains_key(next) && reached.insert(next) {
                        queue.push_back(next);
                    }
                }
            }
            for name in states.keys() {
                if !reached.contains(name.as_str()) {
                    self.error(
                        DiagnosticCode::MissingTransitionTarget,
                        &child(&states_ptr, name),
                        format!("State \"{name}\" is not reachable."),
                    );
                }
            }
        }
    }

    fn state_name(&mut self, name: &str, ptr: &str) {
        if name.is_empty()
            || name.chars().count() > MAX_STATE_NAME
            || name.chars().any(char::is_control)
        {
            self.error(
                DiagnosticCode::InvalidStateName,
                ptr,
                format!("State name '{name}' must be 1 to {MAX_STATE_NAME} characters without control characters"),
            );
        }
        if !self.names.insert(name.to_owned()) {
            self.error(
                DiagnosticCode::DuplicateStateName,
                ptr,
                format!("Duplicate State name: {name}"),
            );
        }
    }

    /// One state. Returns its transitions and whether it ends its scope.
    fn state<'a>(
        &mut self,
        state: &'a Value,
        ptr: &str,
        scope: &Map<String, Value>,
        depth: usize,
    ) -> StateInfo<'a> {
        let mut info = StateInfo {
            targets: Vec::new(),
            terminal: false,
        };
        let Some(obj) = state.as_object() else {
            self.schema(ptr, "The value for a state must be an OBJECT".into());
            return info;
        };
        let ql = match obj.get("QueryLanguage") {
            None => self.top_ql,
            Some(Value::String(s)) if s == "JSONata" => QueryLanguage::Jsonata,
            Some(Value::String(s)) if s == "JSONPath" => {
                if self.top_ql == QueryLanguage::Jsonata {
                    self.schema(
                        ptr,
                        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine".into(),
                    );
                }
                QueryLanguage::JsonPath
            }
            Some(_) => {
                self.schema(
                    &child(ptr, "QueryLanguage"),
                    "The value for the field 'QueryLanguage' must be one of: [JSONPath, JSONata]"
                        .into(),
                );
                self.top_ql
            }
        };
        let state_type = match obj.get("Type") {
            None => {
                self.required(ptr, &["Type"]);
                return info;
            }
            Some(Value::String(t)) if STATE_TYPES.contains(&t.as_str()) => t.as_str(),
            Some(_) => {
                self.schema(
                    &child(ptr, "Type"),
                    format!(
                        "The value for the field 'Type' must be one of: [{}]",
                        STATE_TYPES.join(", ")
                    ),
                );
                return info;
            }
        };

        // Fields: known for this type, in the state's language.
        let fields = type_fields(state_type);
        for key in obj.keys() {
            let lang = COMMON_FIELDS
                .iter()
                .chain(fields)
                .find(|(f, _)| f == key)
                .map(|(_, l)| *l);
            match (lang, ql) {
                (None, _) => self.unsupported(ptr, key),
                (Some(Lang::JsonPath), QueryLanguage::Jsonata) => self.schema(
                    ptr,
                    format!("The field '{key}' is not supported when 'QueryLanguage' is 'JSONata'"),
                ),
                (Some(Lang::Jsonata), QueryLanguage::JsonPath) => self.schema(
                    ptr,
                    format!(
                        "The field '{key}' is not supported when 'QueryLanguage' is 'JSONPath'"
                    ),
                ),
                _ => {}
            }
        }
        if let Some(c) = obj.get("Comment") {
            self.expect_string(c, &child(ptr, "Comment"), "Comment");
        }

        // Transitions.
        match state_type {
            "Succeed" | "Fail" => info.terminal = true,
            "Choice" => {}
            _ => {
                let next = obj.get("Next");
                let end = obj.get("End");
                match end {
                    None => {}
                    Some(Value::Bool(true)) => info.terminal = true,
                    Some(Value::Bool(false)) => {}
                    Some(_) => self.schema(
                        &child(ptr, "End"),
                        "The value for the field 'End' must be a BOOLEAN".into(),
                    ),
                }
                match (next, info.terminal) {
                    (Some(_), true) => {
                        self.schema(ptr, "Only one of 'Next' or 'End' can be present".into())
                    }
                    (None, false) => {
                        self.schema(ptr, "Exactly one of 'Next' or 'End' is required".into())
                    }
                    _ => {}
                }
                if let Some(next) = next {
                    self.target(next, &child(ptr, "Next"), "Next", scope, &mut info.targets);
                }
            }
        }

        // Paths and templates shared by several types (only in the language they belong to).
        if ql == QueryLanguage::JsonPath {
            for field in ["InputPath", "OutputPath"] {
                if let Some(v) = obj.get(field) {
                    self.nullable_path(v, &child(ptr, field), field);
                }
            }
            if let Some(v) = obj.get("ResultPath") {
                self.result_path(v, &child(ptr, "ResultPath"));
            }
            for field in ["Parameters", "ResultSelector", "ItemSelector"] {
                if let Some(v) = obj.get(field) {
                    self.template(v, &child(ptr, field), field, 0);
                }
            }
        } else {
            for field in ["Arguments", "Output", "ItemSelector", "Items"] {
                if let Some(v) = obj.get(field) {
                    self.jsonata_value(v, &child(ptr, field), 0);
                }
            }
            for field in JSONATA_SCALAR_FIELDS {
                if let Some(v) = obj.get(field) {
                    self.jsonata_parse(v, &child(ptr, field));
                }
            }
        }
        if let Some(assign) = obj.get("Assign") {
            self.assign(assign, &child(ptr, "Assign"), ql);
        }
        for field in fields
            .iter()
            .map(|(f, _)| *f)
            .filter(|f| f.ends_with("Path"))
        {
            if matches!(field, "InputPath" | "OutputPath" | "ResultPath")
                || ql != QueryLanguage::JsonPath
            {
                continue;
            }
            if let Some(v) = obj.get(field) {
                if matches!(field, "ErrorPath" | "CausePath") {
                    self.path_or_call(v, &child(ptr, field), field);
                } else {
                    self.path(v, &child(ptr, field), field);
                }
            }
        }

        match state_type {
            "Pass" => self.pass(obj, ptr),
            "Task" => self.task(obj, ptr, ql),
            "Choice" => self.choice(obj, ptr, ql, scope, &mut info.targets),
            "Wait" => self.wait(obj, ptr, ql),
            "Fail" => self.fail(obj, ptr),
            "Parallel" => self.parallel(obj, ptr, depth),
            "Map" => self.map(obj, ptr, ql, depth),
            _ => {}
        }
        if matches!(state_type, "Task" | "Parallel" | "Map") {
            self.retry(obj.get("Retry"), &child(ptr, "Retry"));
            self.catch(
                obj.get("Catch"),
                &child(ptr, "Catch"),
                ql,
                scope,
                &mut info.targets,
            );
        }
        info
    }

    fn target<'a>(
        &mut self,
        v: &'a Value,
        ptr: &str,
        field: &str,
        scope: &Map<String, Value>,
        out: &mut Vec<&'a str>,
    ) {
        match v.as_str() {
            None => self.schema(
                ptr,
                format!("The value for the field '{field}' must be a STRING"),
            ),
            Some(name) => {
                if !scope.contains_key(name) {
                    self.error(
                        DiagnosticCode::MissingTransitionTarget,
                        ptr,
                        format!("Missing '{field}' target: {name}"),
                    );
                }
                out.push(name);
            }
        }
    }

    fn expect_string(&mut self, v: &Value, ptr: &str, field: &str) -> bool {
        if v.is_string() {
            true
        } else {
            self.schema(
                ptr,
                format!("The value for the field '{field}' must be a STRING"),
            );
            false
        }
    }

    /// An integer field at least `min`; a JSONata state may give a `{% %}` expression instead.
    fn int_field(
        &mut self,
        obj: &Map<String, Value>,
        field: &str,
        ptr: &str,
        min: i64,
        ql: QueryLanguage,
    ) {
        let Some(v) = obj.get(field) else { return };
        if ql == QueryLanguage::Jsonata && is_jsonata_expr(v) {
            return;
        }
        if int_value(v).is_none_or(|n| n < min) {
            let what = if min > 0 {
                "a positive integer"
            } else {
                "a non-negative integer"
            };
            self.schema(
                &child(ptr, field),
                format!("The value for the field '{field}' must be {what}"),
            );
        }
    }

    fn exclusive(&mut self, obj: &Map<String, Value>, ptr: &str, a: &str, b: &str) {
        if obj.contains_key(a) && obj.contains_key(b) {
            self.schema(
                ptr,
                format!("The fields '{a}' and '{b}' cannot both be present"),
            );
        }
    }

    fn path(&mut self, v: &Value, ptr: &str, field: &str) -> Option<Path> {
        match v.as_str().map(Path::parse) {
            Some(Ok(p)) => Some(p),
            _ => {
                self.schema(
                    ptr,
                    format!("The value for the field '{field}' must be a valid JSONPath"),
                );
                None
            }
        }
    }

    fn nullable_path(&mut self, v: &Value, ptr: &str, field: &str) {
        if !v.is_null() {
            self.path(v, ptr, field);
        }
    }

    fn result_path(&mut self, v: &Value, ptr: &str) {
        if v.is_null() {
            return;
        }
        let ok = v
            .as_str()
            .map(Path::parse)
            .and_then(Result::ok)
            .is_some_and(|p| p.is_definite() && *p.root() == crate::path::Root::Input);
        if !ok {
            self.schema(
                ptr,
                "The value for the field 'ResultPath' must be a valid ReferencePath".into(),
            );
        }
    }

    fn path_or_call(&mut self, v: &Value, ptr: &str, field: &str) {
        let ok = match v.as_str() {
            Some(s) if looks_like_call(s) => Call::parse(s).is_ok(),
            Some(s) => Path::parse(s).is_ok(),
            None => false,
        };
        if !ok {
            self.schema(
                ptr,
                format!("The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call"),
            );
        }
    }

    /// A JSONPath payload template: every `.$` key holds a path or an intrinsic call.
    fn template(&mut self, v: &Value, ptr: &str, field: &str, depth: usize) {
        if depth > MAX_VALUE_DEPTH {
            self.schema(
                ptr,
                format!("The value for the field '{field}' is nested too deeply"),
            );
            return;
        }
        match v {
            Value::Object(obj) => {
                for (key, value) in obj {
                    if key.ends_with(".$") {
                        self.path_or_call(value, ptr, key);
                    } else if let Value::String(s) = value {
                        if s.starts_with("$.") || s.starts_with("$$.") || looks_like_call(s) {
                            self.push(
                                Severity::Warning,
                                DiagnosticCode::NoDollar,
                                &child(ptr, key),
                                format!("The value for the field '{key}' looks like a JSONPath or an intrinsic function call, but the field name does not end with '.$'"),
                            );
                        }
                    } else {
                        self.template(value, &child(ptr, key), key, depth + 1);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.template(item, &child(ptr, &i.to_string()), field, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// A JSONata value: strings that open `{%` must close `%}`; `.$` keys are JSONPath-only.
    fn jsonata_value(&mut self, v: &Value, ptr: &str, depth: usize) {
        if depth > MAX_VALUE_DEPTH {
            self.schema(ptr, "Value is nested too deeply".into());
            return;
        }
        match v {
            Value::String(s) => {
                let t = s.trim();
                if t.starts_with("{%") && !t.ends_with("%}") {
                    self.schema(ptr, "A JSONata expression must end with '%}'".into());
                }
                self.jsonata_parse(v, ptr);
            }
            Value::Object(obj) => {
                for (key, value) in obj {
                    self.jsonata_value(value, &child(ptr, key), depth + 1);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.jsonata_value(item, &child(ptr, &i.to_string()), depth + 1);
                }
            }
            _ => {}
        }
    }

    /// A `{% %}` string must hold an expression that parses: the diagnostic points at it.
    fn jsonata_parse(&mut self, v: &Value, ptr: &str) {
        let Some(inner) = v.as_str().and_then(crate::jsonata::expression_text) else {
            return;
        };
        if let Err(e) = crate::jsonata::check(inner) {
            self.schema(
                ptr,
                format!(
                    "The JSONata expression '{}' is not valid: {e}",
                    inner.trim()
                ),
            );
        }
    }

    fn assign(&mut self, v: &Value, ptr: &str, ql: QueryLanguage) {
        let Some(obj) = v.as_object() else {
            self.schema(
                ptr,
                "The value for the field 'Assign' must be an OBJECT".into(),
            );
            return;
        };
        for (key, value) in obj {
            let (name, dollar) = match key.strip_suffix(".$") {
                Some(name) if ql == QueryLanguage::JsonPath => (name, true),
                _ => (key.as_str(), false),
            };
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && name.chars().count() <= MAX_STATE_NAME;
            if !valid {
                self.schema(ptr, format!("The variable name '{name}' is not valid"));
            } else if name == "states" {
                self.schema(ptr, format!("The variable name '{name}' is reserved"));
            }
            if dollar {
                self.path_or_call(value, ptr, key);
            } else if ql == QueryLanguage::Jsonata {
                self.jsonata_value(value, &child(ptr, key), 0);
            } else {
                self.template(value, &child(ptr, key), key, 0);
            }
        }
    }

    fn pass(&mut self, obj: &Map<String, Value>, ptr: &str) {
        if let Some(Value::Object(result)) = obj.get("Result") {
            if result.keys().any(|k| k.ends_with(".$")) {
                self.push(
                    Severity::Warning,
                    DiagnosticCode::PassResultIsStatic,
                    &child(ptr, "Result"),
                    "The 'Result' of a Pass state is static: its '.$' fields are not evaluated"
                        .into(),
                );
            }
        }
    }

    fn task(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) {
        match obj.get("Resource") {
            None => self.required(ptr, &["Resource"]),
            Some(v) => {
                let rptr = child(ptr, "Resource");
                if let Some(resource) = v.as_str() {
                    self.resource(resource, &rptr);
                } else {
                    self.schema(
                        &rptr,
                        "The value for the field 'Resource' must be a STRING".into(),
                    );
                }
            }
        }
        self.int_field(obj, "TimeoutSeconds", ptr, 1, ql);
        self.int_field(obj, "HeartbeatSeconds", ptr, 1, ql);
        self.exclusive(obj, ptr, "TimeoutSeconds", "TimeoutSecondsPath");
        self.exclusive(obj, ptr, "HeartbeatSeconds", "HeartbeatSecondsPath");
        if let (Some(t), Some(h)) = (
            obj.get("TimeoutSeconds").and_then(Value::as_i64),
            obj.get("HeartbeatSeconds").and_then(Value::as_i64),
        ) {
            if h >= t {
                self.schema(
                    &child(ptr, "HeartbeatSeconds"),
                    "The value for the field 'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'".into(),
                );
            }
        }
        if let Some(creds) = obj.get("Credentials") {
            let cptr = child(ptr, "Credentials");
            match creds.as_object() {
                None => self.schema(
                    &cptr,
                    "The value for the field 'Credentials' must be an OBJECT".into(),
                ),
                Some(c) => {
                    let has_role = c.contains_key("RoleArn")
                        || (ql == QueryLanguage::JsonPath && c.contains_key("RoleArn.$"));
                    if !has_role {
                        self.schema(
                            &cptr,
                            "The field 'RoleArn' is required but was missing".into(),
                        );
                    }
                    for (key, value) in c {
                        match key.as_str() {
                            "RoleArn" => {
                                self.expect_string(value, &child(&cptr, key), key);
                            }
                            "RoleArn.$" if ql == QueryLanguage::JsonPath => {
                                self.path_or_call(value, &cptr, key)
                            }
                            _ => self.unsupported(&cptr, key),
                        }
                    }
                }
            }
        }
    }

    fn resource(&mut self, resource: &str, ptr: &str) {
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" || parts[2].is_empty() {
            self.error(
                DiagnosticCode::InvalidResource,
                ptr,
                format!("Invalid resource: {resource}"),
            );
            return;
        }
        if self.machine_type == MachineType::Express {
            if parts[2] == "states" && parts[5].starts_with("activity:") {
                self.schema(
                    ptr,
                    "Express state machine does not support Activity ARN".into(),
                );
            } else if resource.ends_with(".sync") || resource.contains(".sync:") {
                self.schema(
                    ptr,
                    "Express state machine does not support '.sync' service integration".into(),
                );
            } else if resource.ends_with(".waitForTaskToken") {
                // AWS's message ends with a space.
                self.schema(ptr, "Express state machine does not support '.waitForTaskToken' service integration ".into());
            }
        }
    }

    fn choice<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        ptr: &str,
        ql: QueryLanguage,
        scope: &Map<String, Value>,
        targets: &mut Vec<&'a str>,
    ) {
        let cptr = child(ptr, "Choices");
        match obj.get("Choices") {
            None => self.required(ptr, &["Choices"]),
            Some(Value::Array(rules)) if rules.is_empty() => {
                self.schema(&cptr, "Value cannot be empty".into())
            }
            Some(Value::Array(rules)) => {
                for (i, rule) in rules.iter().enumerate() {
                    let rptr = child(&cptr, &i.to_string());
                    if ql == QueryLanguage::Jsonata {
                        self.jsonata_rule(rule, &rptr);
                    } else {
                        self.rule(rule, &rptr, true, 0);
                    }
                    if let Some(next) = rule.get("Next") {
                        self.target(next, &child(&rptr, "Next"), "Next", scope, targets);
                    }
                    if let Some(assign) = rule.get("Assign") {
                        self.assign(assign, &child(&rptr, "Assign"), ql);
                    }
                }
            }
            Some(_) => self.schema(
                &cptr,
                "The value for the field 'Choices' must be an ARRAY".into(),
            ),
        }
        if let Some(default) = obj.get("Default") {
            self.target(default, &child(ptr, "Default"), "Default", scope, targets);
        }
    }

    fn jsonata_rule(&mut self, rule: &Value, ptr: &str) {
        let Some(obj) = rule.as_object() else {
            self.schema(ptr, "A Choice Rule must be an OBJECT".into());
            return;
        };
        let missing: Vec<&str> = ["Condition", "Next"]
            .into_iter()
            .filter(|f| !obj.contains_key(*f))
            .collect();
        self.required(ptr, &missing);
        for (key, value) in obj {
            match key.as_str() {
                "Condition" => {
                    if !(value.is_boolean() || is_jsonata_expr(value)) {
                        self.schema(
                            &child(ptr, key),
                            "The value for the field 'Condition' must be a JSONata expression or a BOOLEAN".into(),
                        );
                    }
                    self.jsonata_parse(value, &child(ptr, key));
                }
                "Output" => self.jsonata_value(value, &child(ptr, key), 0),
                "Next" | "Comment" | "Assign" => {}
                _ if OPERATORS.iter().any(|(op, _)| op == key)
                    || matches!(key.as_str(), "Variable" | "And" | "Or" | "Not") =>
                {
                    self.schema(
                        ptr,
                        format!(
                            "The field '{key}' is not supported when 'QueryLanguage' is 'JSONata'"
                        ),
                    )
                }
                _ => self.unsupported(ptr, key),
            }
        }
    }

    /// A JSONPath Choice Rule; `top` rules carry Next (and may Assign), nested ones may not.
    fn rule(&mut self, rule: &Value, ptr: &str, top: bool, depth: usize) {
        if depth > MAX_VALUE_DEPTH {
            self.schema(ptr, "Choice Rule is nested too deeply".into());
            return;
        }
        let Some(obj) = rule.as_object() else {
            self.schema(ptr, "A Choice Rule must be an OBJECT".into());
            return;
        };
        if top && !obj.contains_key("Next") {
            self.required(ptr, &["Next"]);
        }
        let mut operators = Vec::new();
        for (key, value) in obj {
            let kptr = child(ptr, key);
            match key.as_str() {
                "Next" | "Assign" if top => {}
                "Comment" => {
                    self.expect_string(value, &kptr, key);
                }
                "Variable" => {
                    self.path(value, &kptr, key);
                }
                "And" | "Or" => {
                    operators.push(key.as_str());
                    match value.as_array() {
                        Some(items) if !items.is_empty() => {
                            for (i, item) in items.iter().enumerate() {
                                self.rule(item, &child(&kptr, &i.to_string()), false, depth + 1);
                            }
                        }
                        _ => self.schema(
                            &kptr,
                            format!("The value for the field '{key}' must be a non-empty ARRAY"),
                        ),
                    }
                }
                "Not" => {
                    operators.push(key.as_str());
                    self.rule(value, &kptr, false, depth + 1);
                }
                "Output" | "Condition" => self.schema(
                    ptr,
                    format!(
                        "The field '{key}' is not supported when 'QueryLanguage' is 'JSONPath'"
                    ),
                ),
                _ => match OPERATORS.iter().find(|(op, _)| op == key) {
                    None => self.unsupported(ptr, key),
                    Some((op, operand)) => {
                        operators.push(op);
                        self.operand(value, &kptr, op, *operand);
                    }
                },
            }
        }
        match operators.as_slice() {
            [] => self.schema(
                ptr,
                "A Choice Rule must have exactly one comparison operator, or And, Or or Not".into(),
            ),
            [op] => {
                let compound = matches!(*op, "And" | "Or" | "Not");
                if compound && obj.contains_key("Variable") {
                    self.schema(
                        ptr,
                        format!("The field 'Variable' is not supported with '{op}'"),
                    );
                } else if !compound && !obj.contains_key("Variable") {
                    self.required(ptr, &["Variable"]);
                }
            }
            many => self.schema(
                ptr,
                format!(
                    "A Choice Rule must have exactly one comparison operator, found: [{}]",
                    many.join(", ")
                ),
            ),
        }
    }

    fn operand(&mut self, v: &Value, ptr: &str, op: &str, operand: Operand) {
        let (ok, what) = match operand {
            Operand::Str => (v.is_string(), "a STRING"),
            Operand::Num => (v.is_number(), "a NUMBER"),
            Operand::Bool | Operand::Test => (v.is_boolean(), "a BOOLEAN"),
            Operand::Timestamp => (v.as_str().is_some_and(is_rfc3339), "an RFC3339 timestamp"),
            Operand::Path => (
                v.as_str().is_some_and(|s| Path::parse(s).is_ok()),
                "a valid JSONPath",
            ),
        };
        if !ok {
            self.schema(
                ptr,
                format!("The value for the field '{op}' must be {what}"),
            );
        }
    }

    fn wait(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) {
        let durations = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];
        let present: Vec<&str> = durations
            .into_iter()
            .filter(|f| obj.contains_key(*f))
            .collect();
        match present.len() {
            0 => self.schema(ptr, "Exactly one of the fields [Seconds, Timestamp, SecondsPath, TimestampPath] is required".into()),
            1 => {}
            _ => self.schema(ptr, format!("Only one of the fields [{}] can be present", present.join(", "))),
        }
        if let Some(seconds) = obj.get("Seconds") {
            let ok = (ql == QueryLanguage::Jsonata && is_jsonata_expr(seconds))
                || int_value(seconds).is_some_and(|n| (0..=99_999_999).contains(&n));
            if !ok {
                self.schema(
                    &child(ptr, "Seconds"),
                    "The value for the field 'Seconds' must be a non-negative integer".into(),
                );
            }
        }
        if let Some(ts) = obj.get("Timestamp") {
            let ok = (ql == QueryLanguage::Jsonata && is_jsonata_expr(ts))
                || ts.as_str().is_some_and(is_rfc3339);
            if !ok {
                self.schema(
                    &child(ptr, "Timestamp"),
                    "String does not match RFC3339 timestamp".into(),
                );
            }
        }
    }

    fn fail(&mut self, obj: &Map<String, Value>, ptr: &str) {
        for field in ["Error", "Cause"] {
            if let Some(v) = obj.get(field) {
                self.expect_string(v, &child(ptr, field), field);
            }
        }
        self.exclusive(obj, ptr, "Error", "ErrorPath");
        self.exclusive(obj, ptr, "Cause", "CausePath");
    }

    fn parallel(&mut self, obj: &Map<String, Value>, ptr: &str, depth: usize) {
        let bptr = child(ptr, "Branches");
        match obj.get("Branches") {
            None => self.required(ptr, &["Branches"]),
            Some(Value::Array(branches)) if branches.is_empty() => {
                self.schema(&bptr, "Value cannot be empty".into())
            }
            Some(Value::Array(branches)) => {
                for (i, branch) in branches.iter().enumerate() {
                    self.machine(
                        branch,
                        &child(&bptr, &i.to_string()),
                        depth + 1,
                        Scope::Branch,
                    );
                }
            }
            Some(_) => self.schema(
                &bptr,
                "The value for the field 'Branches' must be an ARRAY".into(),
            ),
        }
    }

    fn map(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage, depth: usize) {
        match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (None, None) => self.required(ptr, &["ItemProcessor"]),
            (Some(_), Some(_)) => self.schema(
                ptr,
                "Only one of the fields [ItemProcessor, Iterator] can be present".into(),
            ),
            (Some(p), None) => {
                self.machine(p, &child(ptr, "ItemProcessor"), depth + 1, Scope::Processor)
            }
            (None, Some(p)) => {
                self.machine(p, &child(ptr, "Iterator"), depth + 1, Scope::Processor)
            }
        }
        self.exclusive(obj, ptr, "Parameters", "ItemSelector");
        self.exclusive(obj, ptr, "MaxConcurrency", "MaxConcurrencyPath");
        self.exclusive(
            obj,
            ptr,
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
        );
        self.exclusive(
            obj,
            ptr,
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
        );
        self.int_field(obj, "MaxConcurrency", ptr, 0, ql);
        self.int_field(obj, "ToleratedFailureCount", ptr, 0, ql);
        if let Some(v) = obj.get("ToleratedFailurePercentage") {
            let ok = (ql == QueryLanguage::Jsonata && is_jsonata_expr(v))
                || v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p));
            if !ok {
                self.schema(
                    &child(ptr, "ToleratedFailurePercentage"),
                    "The value for the field 'ToleratedFailurePercentage' must be a number between 0 and 100".into(),
                );
            }
        }
        if let Some(items) = obj.get("Items").filter(|_| ql == QueryLanguage::Jsonata) {
            if !(items.is_array() || is_jsonata_expr(items)) {
                self.schema(
                    &child(ptr, "Items"),
                    "The value for the field 'Items' must be an ARRAY or a JSONata expression"
                        .into(),
                );
            }
        }
        for field in ["Label"] {
            if let Some(v) = obj.get(field) {
                self.expect_string(v, &child(ptr, field), field);
            }
        }
        for field in ["ItemReader", "ItemBatcher", "ResultWriter"] {
            if let Some(v) = obj.get(field) {
                if !v.is_object() {
                    self.schema(
                        &child(ptr, field),
                        format!("The value for the field '{field}' must be an OBJECT"),
                    );
                }
            }
        }
    }

    fn processor_config(&mut self, v: &Value, ptr: &str) {
        let Some(obj) = v.as_object() else {
            self.schema(
                ptr,
                "The value for the field 'ProcessorConfig' must be an OBJECT".into(),
            );
            return;
        };
        for (key, value) in obj {
            let kptr = child(ptr, key);
            match key.as_str() {
                "Mode" => {
                    if !matches!(value.as_str(), Some("INLINE" | "DISTRIBUTED")) {
                        self.schema(
                            &kptr,
                            "The value for the field 'Mode' must be one of: [INLINE, DISTRIBUTED]"
                                .into(),
                        );
                    }
                }
                "ExecutionType" => {
                    if !matches!(value.as_str(), Some("STANDARD" | "EXPRESS")) {
                        self.schema(&kptr, "The value for the field 'ExecutionType' must be one of: [STANDARD, EXPRESS]".into());
                    }
                }
                _ => self.unsupported(ptr, key),
            }
        }
    }

    fn retry(&mut self, v: Option<&Value>, ptr: &str) {
        let Some(v) = v else { return };
        let Some(retriers) = v.as_array() else {
            self.schema(
                ptr,
                "The value for the field 'Retry' must be an ARRAY".into(),
            );
            return;
        };
        for (i, retrier) in retriers.iter().enumerate() {
            let rptr = child(ptr, &i.to_string());
            let Some(obj) = retrier.as_object() else {
                self.schema(&rptr, "A Retrier must be an OBJECT".into());
                continue;
            };
            self.error_equals(obj, &rptr, i + 1 == retriers.len(), "Retrier");
            for (key, value) in obj {
                let kptr = child(&rptr, key);
                let (ok, what) = match key.as_str() {
                    "ErrorEquals" => (true, ""),
                    "Comment" => (value.is_string(), "a STRING"),
                    "IntervalSeconds" => (
                        int_value(value).is_some_and(|n| (1..=99_999_999).contains(&n)),
                        "a positive integer",
                    ),
                    "MaxAttempts" => (
                        int_value(value).is_some_and(|n| (0..=99_999_999).contains(&n)),
                        "a non-negative integer",
                    ),
                    "MaxDelaySeconds" => (
                        int_value(value).is_some_and(|n| (1..=31_622_400).contains(&n)),
                        "a positive integer",
                    ),
                    "BackoffRate" => (
                        value.as_f64().is_some_and(|r| r >= 1.0),
                        "a number greater than or equal to 1.0",
                    ),
                    "JitterStrategy" => (
                        matches!(value.as_str(), Some("FULL" | "NONE")),
                        "one of: [FULL, NONE]",
                    ),
                    _ => {
                        self.unsupported(&rptr, key);
                        (true, "")
                    }
                };
                if !ok {
                    self.schema(
                        &kptr,
                        format!("The value for the field '{key}' must be {what}"),
                    );
                }
            }
        }
    }

    fn catch<'a>(
        &mut self,
        v: Option<&'a Value>,
        ptr: &str,
        ql: QueryLanguage,
        scope: &Map<String, Value>,
        targets: &mut Vec<&'a str>,
    ) {
        let Some(v) = v else { return };
        let Some(catchers) = v.as_array() else {
            self.schema(
                ptr,
                "The value for the field 'Catch' must be an ARRAY".into(),
            );
            return;
        };
        for (i, catcher) in catchers.iter().enumerate() {
            let cptr = child(ptr, &i.to_string());
            let Some(obj) = catcher.as_object() else {
                self.schema(&cptr, "A Catcher must be an OBJECT".into());
                continue;
            };
            self.error_equals(obj, &cptr, i + 1 == catchers.len(), "Catcher");
            if !obj.contains_key("Next") {
                self.required(&cptr, &["Next"]);
            }
            for (key, value) in obj {
                let kptr = child(&cptr, key);
                match (key.as_str(), ql) {
                    ("ErrorEquals", _) => {}
                    ("Next", _) => self.target(value, &kptr, "Next", scope, targets),
                    ("Comment", _) => {
                        self.expect_string(value, &kptr, key);
                    }
                    ("Assign", _) => self.assign(value, &kptr, ql),
                    ("ResultPath", QueryLanguage::JsonPath) => self.result_path(value, &kptr),
                    ("Output", QueryLanguage::Jsonata) => self.jsonata_value(value, &kptr, 0),
                    ("ResultPath", QueryLanguage::Jsonata) => self.schema(
                        &cptr,
                        format!(
                            "The field '{key}' is not supported when 'QueryLanguage' is 'JSONata'"
                        ),
                    ),
                    ("Output", QueryLanguage::JsonPath) => self.schema(
                        &cptr,
                        format!(
                            "The field '{key}' is not supported when 'QueryLanguage' is 'JSONPath'"
                        ),
                    ),
                    _ => self.unsupported(&cptr, key),
                }
            }
        }
    }

    /// `ErrorEquals`: a non-empty array of strings; `States.ALL` alone and in the last entry.
    fn error_equals(&mut self, obj: &Map<String, Value>, ptr: &str, last: bool, what: &str) {
        let eptr = child(ptr, "ErrorEquals");
        match obj.get("ErrorEquals") {
            None => self.required(ptr, &["ErrorEquals"]),
            Some(Value::Array(names)) if names.is_empty() => {
                self.schema(&eptr, "Value cannot be empty".into())
            }
            Some(Value::Array(names)) => {
                if names.iter().any(|n| !n.is_string()) {
                    self.schema(
                        &eptr,
                        "The values of the field 'ErrorEquals' must be STRINGs".into(),
                    );
                }
                if names.iter().any(|n| n == "States.ALL") {
                    if names.len() > 1 {
                        self.schema(
                            &eptr,
                            "'States.ALL' must appear alone in 'ErrorEquals'".into(),
                        );
                    }
                    if !last {
                        self.schema(
                            ptr,
                            format!("A {what} with 'States.ALL' must be the last one"),
                        );
                    }
                }
            }
            Some(_) => self.schema(
                &eptr,
                "The value for the field 'ErrorEquals' must be an ARRAY".into(),
            ),
        }
    }
}

struct StateInfo<'a> {
    targets: Vec<&'a str>,
    terminal: bool,
}

/// Whether `text` is a timestamp Step Functions accepts (RFC 3339, upper-case `T`): the same
/// check the interpreter applies at run time.
pub fn is_rfc3339(text: &str) -> bool {
    crate::timestamp::parse(text).is_some()
}

/// Keys written twice in one object of the text (a parsed `Value` keeps only the last).
/// A key repeated directly inside a `States` object is `DUPLICATE_STATE_NAME`.
fn duplicate_keys(text: &str) -> Vec<Diagnostic> {
    let mut scanner = Scanner {
        b: text.as_bytes(),
        i: 0,
        out: Vec::new(),
    };
    scanner.value("", false, 0);
    scanner.out
}

/// A minimal scanner over text already known to be valid JSON.
struct Scanner<'t> {
    b: &'t [u8],
    i: usize,
    out: Vec<Diagnostic>,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn string(&mut self) -> String {
        let start = self.i;
        self.i += 1;
        while let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => break,
                _ => {}
            }
        }
        let raw = &self.b[start..self.i.min(self.b.len())];
        serde_json::from_slice::<String>(raw).unwrap_or_default()
    }

    fn value(&mut self, ptr: &str, is_states: bool, depth: usize) {
        self.ws();
        if depth > MAX_VALUE_DEPTH {
            self.i = self.b.len();
            return;
        }
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut seen = HashSet::new();
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b'}') | None => {
                            self.i += 1;
                            return;
                        }
                        Some(b',') => self.i += 1,
                        Some(b'"') => {
                            let key = self.string();
                            let kptr = child(ptr, &key);
                            if !seen.insert(key.clone()) {
                                let (code, message) = if is_states {
                                    (
                                        DiagnosticCode::DuplicateStateName,
                                        format!("Duplicate State name: {key}"),
                                    )
                                } else {
                                    (
                                        DiagnosticCode::SchemaValidationFailed,
                                        format!("Duplicate field: {key}"),
                                    )
                                };
                                self.out.push(Diagnostic {
                                    severity: Severity::Error,
                                    code,
                                    message,
                                    location: kptr.clone(),
                                });
                            }
                            self.ws();
                            self.i += 1; // ':'
                            self.value(&kptr, key == "States", depth + 1);
                        }
                        Some(_) => self.i += 1,
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut index = 0;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b']') | None => {
                            self.i += 1;
                            return;
                        }
                        Some(b',') => {
                            self.i += 1;
                            index += 1;
                        }
                        Some(_) => {
                            let before = self.i;
                            self.value(&child(ptr, &index.to_string()), false, depth + 1);
                            if self.i == before {
                                self.i += 1;
                            }
                        }
                    }
                }
            }
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b']'))
                {
                    self.i += 1;
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(def: &Value) -> Vec<Diagnostic> {
        validate(def).into_iter().filter(|d| d.severity == Severity::Error).collect()
    }

    /// No error for this definition.
    fn valid(def: Value) {
        let errs = errors(&def);
        assert!(errs.is_empty(), "expected valid, got {errs:#?}\nfor {def}");
    }

    /// Some error with this code at this location.
    fn invalid(def: Value, code: &str, location: &str) {
        let diags = validate(&def);
        assert!(
            diags.iter().any(|d| d.code.as_str() == code && d.location == location && d.severity == Severity::Error),
            "expected {code} at {location}, got {diags:#?}\nfor {def}"
        );
    }

    /// A one-state machine `{StartAt: A, States: {A: state}}`.
    fn one(state: Value) -> Value {
        json!({"StartAt": "A", "States": {"A": state}})
    }

    /// A JSONata one-state machine.
    fn one_jsonata(state: Value) -> Value {
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": state}})
    }

    /// A Task with the given extra fields, ending the machine.
    fn task(extra: Value) -> Value {
        let mut t = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        one(t)
    }

    fn choice(rule: Value) -> Value {
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [rule], "Default": "B"},
            "B": {"Type": "Succeed"}}})
    }

    const SVF: &str = "SCHEMA_VALIDATION_FAILED";
    const MTT: &str = "MISSING_TRANSITION_TARGET";

    // Top level.
    #[test] fn minimal_is_valid() { valid(one(json!({"Type": "Pass", "End": true}))) }
    #[test] fn not_an_object() { assert_eq!(validate(&json!([1]))[0].message, "Definition must be a valid JSON object") }
    #[test] fn missing_start_and_states() { assert_eq!(validate(&json!({}))[0].to_string(), "SCHEMA_VALIDATION_FAILED: These fields are required: [States, StartAt] at /") }
    #[test] fn missing_states() { invalid(json!({"StartAt": "A"}), SVF, "/") }
    #[test] fn start_at_unknown() { invalid(json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}), MTT, "/StartAt") }
    #[test] fn start_at_not_string() { invalid(json!({"StartAt": 1, "States": {"A": {"Type": "Succeed"}}}), SVF, "/StartAt") }
    #[test] fn states_empty() { invalid(json!({"StartAt": "A", "States": {}}), SVF, "/States") }
    #[test] fn states_not_object() { invalid(json!({"StartAt": "A", "States": []}), SVF, "/States") }
    #[test] fn unknown_top_field() { invalid(json!({"StartAt": "A", "Foo": 1, "States": {"A": {"Type": "Succeed"}}}), SVF, "/") }
    #[test] fn top_fields_allowed() { valid(json!({"Comment": "c", "Version": "1.0", "TimeoutSeconds": 5, "QueryLanguage": "JSONPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}})) }
    #[test] fn top_timeout_positive() { invalid(json!({"TimeoutSeconds": 0, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}), SVF, "/TimeoutSeconds") }
    #[test] fn top_query_language_unknown() { invalid(json!({"QueryLanguage": "XPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}), SVF, "/QueryLanguage") }

    // States.
    #[test] fn type_required() { invalid(one(json!({"End": true})), SVF, "/States/A") }
    #[test] fn type_unknown() { invalid(one(json!({"Type": "Sleep", "End": true})), SVF, "/States/A/Type") }
    #[test] fn state_not_object() { invalid(one(json!(3)), SVF, "/States/A") }
    #[test] fn unknown_state_field() { invalid(one(json!({"Type": "Pass", "End": true, "Foo": 1})), SVF, "/States/A") }
    #[test] fn next_on_succeed() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}}), SVF, "/States/A") }
    #[test] fn next_on_fail() { invalid(one(json!({"Type": "Fail", "Next": "A"})), SVF, "/States/A") }
    #[test] fn end_on_choice() { invalid(choice(json!({"Variable": "$.x", "IsNull": true, "Next": "B", "End": true})), SVF, "/States/C/Choices/0") }
    #[test] fn end_field_on_choice_state() { invalid(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "End": true, "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}]}, "B": {"Type": "Succeed"}}}), SVF, "/States/C") }
    #[test] fn next_and_end() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B", "End": true}, "B": {"Type": "Succeed"}}}), SVF, "/States/A") }
    #[test] fn neither_next_nor_end() { invalid(one(json!({"Type": "Pass"})), SVF, "/States/A") }
    #[test] fn end_false_alone() { invalid(one(json!({"Type": "Pass", "End": false})), SVF, "/States/A") }
    #[test] fn end_not_bool() { invalid(one(json!({"Type": "Pass", "End": "yes"})), SVF, "/States/A/End") }
    #[test] fn next_missing_target() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}, "B": {"Type": "Succeed"}}}), MTT, "/States/A/Next") }
    #[test] fn next_not_string() { invalid(one(json!({"Type": "Pass", "Next": 1})), SVF, "/States/A/Next") }
    #[test] fn unreachable_state() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}), MTT, "/States/B") }
    #[test] fn no_terminal_state() { invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}), "MISSING_END_STATE", "/") }
    #[test] fn state_name_too_long() { let n = "x".repeat(81); invalid(json!({"StartAt": n, "States": {n.clone(): {"Type": "Succeed"}}}), "INVALID_STATE_NAME", &format!("/States/{n}")) }
    #[test] fn duplicate_name_across_branches() { invalid(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}]}}}), "DUPLICATE_STATE_NAME", "/States/P/Branches/0/States/P") }
    #[test] fn duplicate_name_in_text() { let d = validate_text(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"},"A":{"Type":"Succeed"}}}"#); assert!(d.iter().any(|d| d.code == DiagnosticCode::DuplicateStateName && d.location == "/States/A"), "{d:#?}") }
    #[test] fn next_into_other_scope() { invalid(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "P"}}}]}}}), MTT, "/States/P/Branches/0/States/B/Next") }
    #[test] fn pointer_escapes() { invalid(json!({"StartAt": "a/b", "States": {"a/b": {"Type": "Pass", "Next": "z"}}}), MTT, "/States/a~1b/Next") }

    // Text.
    #[test] fn text_not_json() { assert_eq!(validate_text("{")[0].code, DiagnosticCode::InvalidJsonDescription) }
    #[test] fn text_blank() { let d = validate_text(" "); assert_eq!((d[0].code, d[0].location.as_str()), (DiagnosticCode::SchemaValidationFailed, "")) }
    #[test] fn text_valid() { assert!(validate_text(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#).is_empty()) }
    #[test] fn aws_message_joins() {
        let d = validate(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}, "B": {"Type": "Succeed"}}}));
        assert_eq!(aws_message(&d), "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /States/A/Next, MISSING_TRANSITION_TARGET: State \"B\" is not reachable. at /States/B'");
    }
    #[test] fn codes_round_trip() { for (code, s) in CODES { assert_eq!(DiagnosticCode::parse(s), Some(*code)); assert_eq!(code.to_string(), *s) } }

    // Pass / Wait / Fail / Succeed.
    #[test] fn pass_result_ok() { valid(one(json!({"Type": "Pass", "Result": {"a": 1}, "ResultPath": "$.r", "End": true}))) }
    #[test] fn pass_result_static_warns() { let d = validate(&one(json!({"Type": "Pass", "Result": {"a.$": "$.x"}, "End": true}))); assert!(d.iter().any(|d| d.code == DiagnosticCode::PassResultIsStatic && d.severity == Severity::Warning)) }
    #[test] fn wait_seconds_ok() { valid(one(json!({"Type": "Wait", "Seconds": 3, "End": true}))) }
    #[test] fn wait_no_duration() { invalid(one(json!({"Type": "Wait", "End": true})), SVF, "/States/A") }
    #[test] fn wait_two_durations() { invalid(one(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true})), SVF, "/States/A") }
    #[test] fn wait_negative_seconds() { invalid(one(json!({"Type": "Wait", "Seconds": -1, "End": true})), SVF, "/States/A/Seconds") }
    #[test] fn wait_bad_timestamp() { invalid(one(json!({"Type": "Wait", "Timestamp": "2016-02-30T00:00:00Z", "End": true})), SVF, "/States/A/Timestamp") }
    #[test] fn wait_good_timestamp() { valid(one(json!({"Type": "Wait", "Timestamp": "2016-03-14T01:59:00.123+01:00", "End": true}))) }
    #[test] fn wait_bad_seconds_path() { invalid(one(json!({"Type": "Wait", "SecondsPath": "s", "End": true})), SVF, "/States/A/SecondsPath") }
    #[test] fn wait_jsonata_expr() { valid(one_jsonata(json!({"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": true}))) }
    #[test] fn fail_ok() { valid(one(json!({"Type": "Fail", "Error": "E", "CausePath": "States.Format('{}', $.c)"}))) }
    #[test] fn fail_error_and_path() { invalid(one(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})), SVF, "/States/A") }
    #[test] fn fail_error_not_string() { invalid(one(json!({"Type": "Fail", "Error": 1})), SVF, "/States/A/Error") }
    #[test] fn succeed_output_in_jsonpath() { invalid(one(json!({"Type": "Succeed", "Output": {}})), SVF, "/States/A") }

    // Task.
    #[test] fn task_ok() { valid(task(json!({"TimeoutSeconds": 10, "HeartbeatSeconds": 5}))) }
    #[test] fn task_needs_resource() { invalid(one(json!({"Type": "Task", "End": true})), SVF, "/States/A") }
    #[test] fn task_bad_resource() { invalid(task(json!({"Resource": "lambda"})), "INVALID_RESOURCE", "/States/A/Resource") }
    #[test] fn task_timeout_zero() { invalid(task(json!({"TimeoutSeconds": 0})), SVF, "/States/A/TimeoutSeconds") }
    #[test] fn task_heartbeat_not_int() { invalid(task(json!({"HeartbeatSeconds": 1.5})), SVF, "/States/A/HeartbeatSeconds") }
    #[test] fn task_heartbeat_over_timeout() { invalid(task(json!({"TimeoutSeconds": 5, "HeartbeatSeconds": 5})), SVF, "/States/A/HeartbeatSeconds") }
    #[test] fn task_timeout_and_path() { invalid(task(json!({"TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"})), SVF, "/States/A") }
    #[test] fn task_credentials_need_role() { invalid(task(json!({"Credentials": {}})), SVF, "/States/A/Credentials") }
    #[test] fn task_credentials_ok() { valid(task(json!({"Credentials": {"RoleArn.$": "$.role"}}))) }
    #[test] fn express_rejects_sync() {
        let d = validate_for(&task(json!({"Resource": "arn:aws:states:::states:startExecution.sync:2"})), MachineType::Express);
        assert_eq!(d[0].message, "Express state machine does not support '.sync' service integration");
    }
    #[test] fn standard_allows_sync() { valid(task(json!({"Resource": "arn:aws:states:::states:startExecution.sync"}))) }

    // Paths and templates.
    #[test] fn input_path_bad() { invalid(one(json!({"Type": "Pass", "InputPath": "a", "End": true})), SVF, "/States/A/InputPath") }
    #[test] fn output_path_null() { valid(one(json!({"Type": "Pass", "OutputPath": null, "InputPath": null, "ResultPath": null, "End": true}))) }
    #[test] fn result_path_indefinite() { invalid(one(json!({"Type": "Pass", "ResultPath": "$.a[*]", "End": true})), SVF, "/States/A/ResultPath") }
    #[test] fn result_path_context() { invalid(one(json!({"Type": "Pass", "ResultPath": "$$.a", "End": true})), SVF, "/States/A/ResultPath") }
    #[test] fn parameters_bad_path() { invalid(one(json!({"Type": "Pass", "Parameters": {"a": {"b.$": "nope"}}, "End": true})), SVF, "/States/A/Parameters/a") }
    #[test] fn parameters_not_string() { invalid(one(json!({"Type": "Pass", "Parameters": {"b.$": 3}, "End": true})), SVF, "/States/A/Parameters") }
    #[test] fn parameters_intrinsic_ok() { valid(one(json!({"Type": "Pass", "Parameters": {"b.$": "States.Format('{}', $.x)", "c": [{"d.$": "$$.Execution.Id"}]}, "End": true}))) }
    #[test] fn parameters_no_dollar_warns() { let d = validate(&one(json!({"Type": "Pass", "Parameters": {"b": "$.x"}, "End": true}))); assert!(d.iter().any(|d| d.code == DiagnosticCode::NoDollar && d.location == "/States/A/Parameters/b")) }
    #[test] fn result_selector_bad() { invalid(task(json!({"ResultSelector": {"x.$": "x"}})), SVF, "/States/A/ResultSelector") }
    #[test] fn deep_template_no_panic() {
        let mut v = json!({"x.$": "$"});
        for _ in 0..300 { v = json!({"n": v}); }
        invalid(one(json!({"Type": "Pass", "Parameters": v, "End": true})), SVF, &format!("/States/A/Parameters{}", "/n".repeat(257)));
    }

    // Query language.
    #[test] fn jsonata_downgrade_rejected() { invalid(one_jsonata(json!({"Type": "Pass", "QueryLanguage": "JSONPath", "End": true})), SVF, "/States/A") }
    #[test] fn jsonata_state_in_jsonpath_machine() { valid(one(json!({"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "End": true}))) }
    #[test] fn jsonata_rejects_input_path() { invalid(one_jsonata(json!({"Type": "Pass", "InputPath": "$", "End": true})), SVF, "/States/A") }
    #[test] fn jsonata_rejects_parameters() { invalid(one_jsonata(json!({"Type": "Pass", "Parameters": {}, "End": true})), SVF, "/States/A") }
    #[test] fn jsonata_rejects_seconds_path() { invalid(one_jsonata(json!({"Type": "Wait", "SecondsPath": "$.s", "End": true})), SVF, "/States/A") }
    #[test] fn jsonata_rejects_items_path() { invalid(one_jsonata(json!({"Type": "Map", "ItemsPath": "$", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A") }
    #[test] fn jsonpath_rejects_arguments() { invalid(task(json!({"Arguments": {}})), SVF, "/States/A") }
    #[test] fn jsonpath_rejects_items() { invalid(one(json!({"Type": "Map", "Items": [], "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A") }
    #[test] fn jsonata_task_ok() { valid(one_jsonata(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"x": "{% $states.input %}"}, "TimeoutSeconds": "{% 3 %}", "Output": "{% $states.result %}", "End": true}))) }
    #[test] fn jsonata_broken_output() { invalid(one_jsonata(json!({"Type": "Pass", "Output": {"a": ["{% 1 + %}"]}, "End": true})), SVF, "/States/A/Output/a/0") }
    #[test] fn jsonata_broken_condition() { invalid(json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Condition": "{% $x = %}", "Next": "B"}]}, "B": {"Type": "Succeed"}}}), SVF, "/States/C/Choices/0/Condition") }
    #[test] fn jsonata_broken_seconds() { invalid(one_jsonata(json!({"Type": "Wait", "Seconds": "{% ( %}", "End": true})), SVF, "/States/A/Seconds") }
    #[test] fn jsonata_broken_assign() { invalid(one_jsonata(json!({"Type": "Pass", "Assign": {"x": "{% [1, %}"}, "End": true})), SVF, "/States/A/Assign/x") }
    #[test] fn jsonata_unclosed_expr() { invalid(one_jsonata(json!({"Type": "Pass", "Output": "{% 1 ", "End": true})), SVF, "/States/A/Output") }
    #[test] fn state_query_language_unknown() { invalid(one(json!({"Type": "Pass", "QueryLanguage": "X", "End": true})), SVF, "/States/A/QueryLanguage") }

    // Assign.
    #[test] fn assign_ok() { valid(one(json!({"Type": "Pass", "Assign": {"x": 1, "_y.$": "$.a"}, "End": true}))) }
    #[test] fn assign_not_object() { invalid(one(json!({"Type": "Pass", "Assign": [], "End": true})), SVF, "/States/A/Assign") }
    #[test] fn assign_bad_name() { invalid(one(json!({"Type": "Pass", "Assign": {"1x": 1}, "End": true})), SVF, "/States/A/Assign") }
    #[test] fn assign_reserved() { invalid(one(json!({"Type": "Pass", "Assign": {"states": 1}, "End": true})), SVF, "/States/A/Assign") }
    #[test] fn assign_bad_path() { invalid(one(json!({"Type": "Pass", "Assign": {"x.$": "nope"}, "End": true})), SVF, "/States/A/Assign") }

    // Choice.
    #[test] fn choice_ok() { valid(choice(json!({"Variable": "$.x", "NumericGreaterThan": 3, "Next": "B"}))) }
    #[test] fn choice_compound_ok() { valid(choice(json!({"And": [{"Variable": "$.x", "IsPresent": true}, {"Not": {"Variable": "$.y", "StringMatches": "a*"}}], "Next": "B"}))) }
    #[test] fn choice_empty() { invalid(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": []}}}), SVF, "/States/C/Choices") }
    #[test] fn choice_missing_choices() { invalid(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "C"}}}), SVF, "/States/C") }
    #[test] fn choice_no_operator() { invalid(choice(json!({"Variable": "$.x", "Next": "B"})), SVF, "/States/C/Choices/0") }
    #[test] fn choice_two_operators() { invalid(choice(json!({"Variable": "$.x", "IsNull": true, "IsString": true, "Next": "B"})), SVF, "/States/C/Choices/0") }
    #[test] fn choice_needs_next() { invalid(choice(json!({"Variable": "$.x", "IsNull": true})), SVF, "/States/C/Choices/0") }
    #[test] fn choice_nested_next() { invalid(choice(json!({"Not": {"Variable": "$.x", "IsNull": true, "Next": "B"}, "Next": "B"})), SVF, "/States/C/Choices/0/Not") }
    #[test] fn choice_needs_variable() { invalid(choice(json!({"IsNull": true, "Next": "B"})), SVF, "/States/C/Choices/0") }
    #[test] fn choice_bad_operand() { invalid(choice(json!({"Variable": "$.x", "NumericEquals": "3", "Next": "B"})), SVF, "/States/C/Choices/0/NumericEquals") }
    #[test] fn choice_bad_timestamp() { invalid(choice(json!({"Variable": "$.x", "TimestampEquals": "yesterday", "Next": "B"})), SVF, "/States/C/Choices/0/TimestampEquals") }
    #[test] fn choice_bad_variable() { invalid(choice(json!({"Variable": "x", "IsNull": true, "Next": "B"})), SVF, "/States/C/Choices/0/Variable") }
    #[test] fn choice_empty_and() { invalid(choice(json!({"And": [], "Next": "B"})), SVF, "/States/C/Choices/0/And") }
    #[test] fn choice_unknown_operator() { invalid(choice(json!({"Variable": "$.x", "Equals": 1, "Next": "B"})), SVF, "/States/C/Choices/0") }
    #[test] fn choice_missing_target() { invalid(choice(json!({"Variable": "$.x", "IsNull": true, "Next": "Z"})), MTT, "/States/C/Choices/0/Next") }
    #[test] fn choice_missing_default() { invalid(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}], "Default": "Z"}, "B": {"Type": "Succeed"}}}), MTT, "/States/C/Default") }
    #[test] fn choice_jsonata_condition() { valid(json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "B"}]}, "B": {"Type": "Succeed"}}})) }
    #[test] fn choice_jsonata_rejects_variable() { invalid(json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}]}, "B": {"Type": "Succeed"}}}), SVF, "/States/C/Choices/0") }
    #[test] fn choice_jsonpath_rejects_condition() { invalid(choice(json!({"Condition": "{% true %}", "Next": "B"})), SVF, "/States/C/Choices/0") }

    // Retry / Catch.
    #[test] fn retry_ok() { valid(task(json!({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 1, "MaxAttempts": 0, "BackoffRate": 1.5, "MaxDelaySeconds": 3, "JitterStrategy": "FULL"}, {"ErrorEquals": ["States.ALL"]}]}))) }
    #[test] fn retry_empty_error_equals() { invalid(task(json!({"Retry": [{"ErrorEquals": []}]})), SVF, "/States/A/Retry/0/ErrorEquals") }
    #[test] fn retry_missing_error_equals() { invalid(task(json!({"Retry": [{}]})), SVF, "/States/A/Retry/0") }
    #[test] fn retry_all_not_alone() { invalid(task(json!({"Retry": [{"ErrorEquals": ["States.ALL", "X"]}]})), SVF, "/States/A/Retry/0/ErrorEquals") }
    #[test] fn retry_all_not_last() { invalid(task(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]})), SVF, "/States/A/Retry/0") }
    #[test] fn retry_negative_attempts() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}]})), SVF, "/States/A/Retry/0/MaxAttempts") }
    #[test] fn retry_backoff_below_one() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]})), SVF, "/States/A/Retry/0/BackoffRate") }
    #[test] fn retry_interval_zero() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]})), SVF, "/States/A/Retry/0/IntervalSeconds") }
    #[test] fn retry_max_delay_zero() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]})), SVF, "/States/A/Retry/0/MaxDelaySeconds") }
    #[test] fn retry_bad_jitter() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]})), SVF, "/States/A/Retry/0/JitterStrategy") }
    #[test] fn retry_unknown_field() { invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "Foo": 1}]})), SVF, "/States/A/Retry/0") }
    #[test] fn retry_on_pass() { invalid(one(json!({"Type": "Pass", "Retry": [], "End": true})), SVF, "/States/A") }
    #[test] fn catch_needs_next() { invalid(task(json!({"Catch": [{"ErrorEquals": ["X"]}]})), SVF, "/States/A/Catch/0") }
    #[test] fn catch_missing_target() { invalid(task(json!({"Catch": [{"ErrorEquals": ["X"], "Next": "Z"}]})), MTT, "/States/A/Catch/0/Next") }
    #[test] fn catch_all_not_last() { invalid(task(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]})), SVF, "/States/A/Catch/0") }
    #[test] fn catch_bad_result_path() { invalid(task(json!({"Catch": [{"ErrorEquals": ["X"], "Next": "A", "ResultPath": "x"}]})), SVF, "/States/A/Catch/0/ResultPath") }
    #[test] fn catch_makes_reachable() { valid(json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]}, "H": {"Type": "Succeed"}}})) }

    // Parallel / Map.
    #[test] fn parallel_ok() { valid(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]}}})) }
    #[test] fn parallel_empty_branches() { invalid(one(json!({"Type": "Parallel", "Branches": [], "End": true})), SVF, "/States/A/Branches") }
    #[test] fn parallel_missing_branches() { invalid(one(json!({"Type": "Parallel", "End": true})), SVF, "/States/A") }
    #[test] fn parallel_branch_missing_start() { invalid(one(json!({"Type": "Parallel", "Branches": [{"States": {"B": {"Type": "Succeed"}}}], "End": true})), SVF, "/States/A/Branches/0") }
    #[test] fn parallel_branch_unknown_field() { invalid(one(json!({"Type": "Parallel", "Branches": [{"StartAt": "B", "QueryLanguage": "JSONata", "States": {"B": {"Type": "Succeed"}}}], "End": true})), SVF, "/States/A/Branches/0") }
    #[test] fn map_ok() { valid(one(json!({"Type": "Map", "ItemsPath": "$.xs", "MaxConcurrency": 2, "ItemSelector": {"v.$": "$$.Map.Item.Value"}, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true}))) }
    #[test] fn map_legacy_iterator_ok() { valid(one(json!({"Type": "Map", "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true}))) }
    #[test] fn map_needs_processor() { invalid(one(json!({"Type": "Map", "End": true})), SVF, "/States/A") }
    #[test] fn map_bad_mode() { invalid(one(json!({"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "FAST"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A/ItemProcessor/ProcessorConfig/Mode") }
    #[test] fn map_processor_unreachable() { invalid(one(json!({"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}, "J": {"Type": "Succeed"}}}, "End": true})), MTT, "/States/A/ItemProcessor/States/J") }
    #[test] fn map_negative_concurrency() { invalid(one(json!({"Type": "Map", "MaxConcurrency": -1, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A/MaxConcurrency") }
    #[test] fn map_bad_percentage() { invalid(one(json!({"Type": "Map", "ToleratedFailurePercentage": 101, "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A/ToleratedFailurePercentage") }
    #[test] fn map_bad_items_path() { invalid(one(json!({"Type": "Map", "ItemsPath": "xs", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}, "End": true})), SVF, "/States/A/ItemsPath") }
    #[test] fn nesting_bounded() {
        let mut m = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}});
        for i in 0..100 {
            m = json!({"StartAt": format!("P{i}"), "States": {format!("P{i}"): {"Type": "Parallel", "End": true, "Branches": [m]}}});
        }
        let d = validate(&m);
        assert!(d.iter().any(|d| d.message.contains("maximum depth")), "{:?}", d.first());
    }

    // Never panics.
    #[test] fn odd_inputs_do_not_panic() {
        for v in [json!(null), json!("x"), json!({"StartAt": null, "States": null}), json!({"StartAt": "A", "States": {"A": null}}),
                  json!({"StartAt": "A", "States": {"A": {"Type": "Map", "ItemProcessor": 1, "Retry": {}, "Catch": 2, "End": true}}}),
                  json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [1, {"Not": 2}, {"And": 3}]}}}),
                  json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": [null, {"StartAt": 1, "States": {}}], "End": true}}})] {
            let _ = validate(&v);
        }
        for t in ["", "[", "\"x\"", "{\"a\":{\"a\":1,\"a\":2}}", "{\"States\":{\"\\u0041\":1,\"A\":2}}"] {
            let _ = validate_text(t);
        }
    }
}

//! A definition as written, typed: the machine, one struct per state type, Retriers, Catchers,
//! Choice Rules and the Map's processor, batcher, reader and writer. `read.rs` builds it from
//! JSON once; `validate` judges it and `compile` turns it into a runnable `Machine`.
//!
//! Reading is lenient: a field of the wrong type keeps its raw value ([`Field::Wrong`]) so
//! validate can name it in AWS's words, and every object keeps the keys it was written with,
//! in order, so fields that do not belong are reported where AWS reports them. Fields whose
//! value may be a path, an intrinsic call, a JSONata expression or a literal stay `Value`.

use super::{QueryLanguage, StateType};
use serde_json::{Map, Number, Value};

/// One field as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Field<T> {
    /// Not written.
    #[default]
    Absent,
    /// Written, of the type the language wants.
    Ok(T),
    /// Written, but not of that type (or not one of its values): kept for the diagnostic.
    Wrong(Value),
}

impl<T> Field<T> {
    /// Whether the field is written at all.
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }

    /// The value, when it has the right type.
    pub(crate) fn ok(&self) -> Option<&T> {
        match self {
            Field::Ok(value) => Some(value),
            _ => None,
        }
    }
}

/// A (sub-)machine: the definition itself, a Parallel branch or a Map processor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StateMachine {
    /// Every key as written, in order.
    pub keys: Vec<String>,
    pub comment: Field<String>,
    pub start_at: Field<String>,
    /// The states in document order (`Wrong` when `States` is not an object).
    pub states: Field<Vec<NamedState>>,
    pub version: Field<String>,
    pub timeout_seconds: Field<Number>,
    pub query_language: Field<QueryLanguage>,
    /// A Map processor's `ProcessorConfig`.
    pub processor_config: Field<ProcessorConfig>,
}

/// A sub-machine as a Parallel or Map state holds it: `Wrong` when it is not an object, or
/// when it lies deeper than `validate::MAX_DEPTH` (then it is not read at all).
pub(crate) type SubMachine = Field<Box<StateMachine>>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NamedState {
    pub name: String,
    /// `Wrong` when the state is not an object.
    pub state: Field<State>,
}

/// `ProcessorConfig` of a Map's `ItemProcessor`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProcessorConfig {
    pub keys: Vec<String>,
    pub mode: Field<MapMode>,
    pub execution_type: Field<ExecutionType>,
}

/// `ProcessorConfig.Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapMode {
    Inline,
    Distributed,
}

/// `ProcessorConfig.ExecutionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecutionType {
    Standard,
    Express,
}

/// A path field `null` may switch off (`InputPath`, `OutputPath`, `ResultPath`, `ItemsPath`):
/// `Ok(None)` is `null`.
pub(crate) type NullablePath = Field<Option<String>>;

/// One state: the fields several types share (read whatever the type, so validate can report
/// them where they do not belong), then the type's own.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    /// Every key as written, in order.
    pub keys: Vec<String>,
    pub comment: Field<String>,
    pub query_language: Field<QueryLanguage>,
    pub next: Field<String>,
    pub end: Field<bool>,
    pub input_path: NullablePath,
    pub output_path: NullablePath,
    pub result_path: NullablePath,
    pub parameters: Option<Value>,
    pub result_selector: Option<Value>,
    pub assign: Option<Value>,
    pub output: Option<Value>,
    pub arguments: Option<Value>,
    pub retry: Field<Vec<Field<Retrier>>>,
    pub catch: Field<Vec<Field<Catcher>>>,
    /// The type and its fields: `Absent` without `Type`, `Wrong` (the raw `Type`) for a type
    /// Step Functions does not have.
    pub kind: Field<Kind>,
    /// Fields of other state types written here, raw (validate reports them, and still
    /// checks the JSONata and path values among them as AWS does).
    pub foreign: Vec<(String, Value)>,
}

impl State {
    /// A field holding a value (path, expression or literal) by its name: this type's, or a
    /// foreign one. For validate's checks that go by field name across types.
    pub(crate) fn value(&self, name: &str) -> Option<&Value> {
        let own = match &self.kind {
            Field::Ok(kind) => kind.value(name),
            _ => None,
        };
        own.or_else(|| {
            self.foreign
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value)
        })
    }
}

/// A state's type with the fields only that type has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Pass(Pass),
    Task(Task),
    Choice(Choice),
    Wait(Wait),
    Succeed,
    Fail(Fail),
    Parallel(Parallel),
    Map(Box<MapState>),
}

impl Kind {
    pub(crate) fn state_type(&self) -> StateType {
        match self {
            Kind::Pass(_) => StateType::Pass,
            Kind::Task(_) => StateType::Task,
            Kind::Choice(_) => StateType::Choice,
            Kind::Wait(_) => StateType::Wait,
            Kind::Succeed => StateType::Succeed,
            Kind::Fail(_) => StateType::Fail,
            Kind::Parallel(_) => StateType::Parallel,
            Kind::Map(_) => StateType::Map,
        }
    }

    /// This type's value-typed field `name`, if it has one and it is written.
    fn value(&self, name: &str) -> Option<&Value> {
        match (self, name) {
            (Kind::Pass(p), "Result") => p.result.as_ref(),
            (Kind::Task(t), "TimeoutSeconds") => t.timeout_seconds.as_ref(),
            (Kind::Task(t), "HeartbeatSeconds") => t.heartbeat_seconds.as_ref(),
            (Kind::Task(t), "Credentials") => t.credentials.as_ref(),
            (Kind::Wait(w), "Seconds") => w.seconds.as_ref(),
            (Kind::Wait(w), "Timestamp") => w.timestamp.as_ref(),
            (Kind::Fail(f), "Error") => f.error.as_ref(),
            (Kind::Fail(f), "Cause") => f.cause.as_ref(),
            (Kind::Map(m), "ItemSelector") => m.item_selector.as_ref(),
            (Kind::Map(m), "Items") => m.items.as_ref(),
            (Kind::Map(m), "MaxConcurrency") => m.max_concurrency.as_ref(),
            (Kind::Map(m), "ToleratedFailureCount") => m.tolerated_failure_count.as_ref(),
            (Kind::Map(m), "ToleratedFailurePercentage") => m.tolerated_failure_percentage.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pass {
    /// Static: any JSON.
    pub result: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Task {
    pub resource: Field<String>,
    /// An integer, or a JSONata expression.
    pub timeout_seconds: Option<Value>,
    pub timeout_seconds_path: Field<String>,
    pub heartbeat_seconds: Option<Value>,
    pub heartbeat_seconds_path: Field<String>,
    /// `RoleArn` or `RoleArn.$`: a small payload template.
    pub credentials: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    pub choices: Field<Vec<Field<ChoiceRule>>>,
    pub default: Field<String>,
}

/// A Choice Rule: a top-level one (with `Next`, perhaps `Assign` / `Output`), or one nested
/// in `And`, `Or` or `Not`. JSONPath rules compare; JSONata rules hold a `Condition`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChoiceRule {
    /// Every key as written, in order.
    pub keys: Vec<String>,
    pub next: Field<String>,
    pub comment: Field<String>,
    pub assign: Option<Value>,
    pub output: Option<Value>,
    /// A boolean or a JSONata expression.
    pub condition: Option<Value>,
    pub variable: Field<String>,
    pub and: Field<Vec<Field<ChoiceRule>>>,
    pub or: Field<Vec<Field<ChoiceRule>>>,
    /// `Wrong` when not an object.
    pub not: Option<Box<Field<ChoiceRule>>>,
    /// Comparison operators as written (`StringEquals`, `NumericLessThanPath` …) with their
    /// operands, in order; whether a name is an operator is validate's to say.
    pub comparisons: Vec<(String, Value)>,
}

impl ChoiceRule {
    /// The operand written under `key`, be it a comparison or another field.
    pub(crate) fn comparison(&self, key: &str) -> Option<&Value> {
        self.comparisons
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wait {
    /// An integer, or a JSONata expression.
    pub seconds: Option<Value>,
    /// An RFC 3339 string, or a JSONata expression.
    pub timestamp: Option<Value>,
    pub seconds_path: Field<String>,
    pub timestamp_path: Field<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fail {
    /// A string, or a JSONata expression.
    pub error: Option<Value>,
    pub cause: Option<Value>,
    /// A path or an intrinsic call.
    pub error_path: Field<String>,
    pub cause_path: Field<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parallel {
    pub branches: Field<Vec<SubMachine>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MapState {
    pub item_processor: Option<SubMachine>,
    /// The legacy spelling of `ItemProcessor`.
    pub iterator: Option<SubMachine>,
    pub item_reader: Field<Map<String, Value>>,
    pub item_selector: Option<Value>,
    pub item_batcher: Field<ItemBatcher>,
    pub result_writer: Field<Map<String, Value>>,
    pub max_concurrency: Option<Value>,
    pub max_concurrency_path: Field<String>,
    pub tolerated_failure_count: Option<Value>,
    pub tolerated_failure_count_path: Field<String>,
    pub tolerated_failure_percentage: Option<Value>,
    pub tolerated_failure_percentage_path: Field<String>,
    pub label: Field<String>,
    /// JSONata: an array template or an expression.
    pub items: Option<Value>,
    pub items_path: NullablePath,
}

/// A Map's `ItemBatcher`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemBatcher {
    pub max_items_per_batch: Option<Value>,
    pub max_items_per_batch_path: Field<String>,
    pub max_input_bytes_per_batch: Option<Value>,
    pub max_input_bytes_per_batch_path: Field<String>,
    pub batch_input: Option<Value>,
}

/// One entry of `Retry`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retrier {
    /// Every key as written, in order (unknown ones included).
    pub keys: Vec<String>,
    pub error_equals: Field<Vec<Field<String>>>,
    pub comment: Field<String>,
    pub interval_seconds: Field<Number>,
    pub max_attempts: Field<Number>,
    pub max_delay_seconds: Field<Number>,
    pub backoff_rate: Field<Number>,
    pub jitter_strategy: Field<Jitter>,
}

/// `JitterStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    Full,
    None,
}

/// One entry of `Catch`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catcher {
    /// Every key as written, in order (unknown ones included).
    pub keys: Vec<String>,
    pub error_equals: Field<Vec<Field<String>>>,
    pub next: Field<String>,
    pub comment: Field<String>,
    pub assign: Option<Value>,
    pub result_path: NullablePath,
    pub output: Option<Value>,
}

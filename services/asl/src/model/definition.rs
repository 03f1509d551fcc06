//! A definition as written, typed: the machine, one struct per state type, Retriers, Catchers,
//! Choice Rules and the Map's processor, batcher, reader and writer. `read.rs` builds it from
//! JSON once; `validate` judges it and `compile` turns it into a runnable `Machine`.
//!
//! The model borrows from the JSON it was read from (`'a`): reading copies nothing. Reading is
//! lenient: a field of the wrong type keeps its raw value ([`Field::Wrong`]) so validate can
//! name it in AWS's words, and every object keeps the keys it was written with, in order, so
//! fields that do not belong are reported where AWS reports them. Fields whose value may be a
//! path, an intrinsic call, a JSONata expression or a literal stay `&Value`.

use super::{QueryLanguage, StateType};
use serde_json::{Map, Number, Value};

/// One field as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field<'a, T> {
    /// Not written.
    Absent,
    /// Written, of the type the language wants.
    Ok(T),
    /// Written, but not of that type (or not one of its values): kept for the diagnostic.
    Wrong(&'a Value),
}

impl<T> Field<'_, T> {
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
pub(crate) struct StateMachine<'a> {
    /// Every key as written, in order.
    pub keys: Vec<&'a str>,
    pub comment: Field<'a, &'a str>,
    pub start_at: Field<'a, &'a str>,
    /// The states in document order (`Wrong` when `States` is not an object).
    pub states: Field<'a, Vec<NamedState<'a>>>,
    pub version: Field<'a, &'a str>,
    pub timeout_seconds: Field<'a, &'a Number>,
    pub query_language: Field<'a, QueryLanguage>,
    /// A Map processor's `ProcessorConfig`.
    pub processor_config: Field<'a, ProcessorConfig<'a>>,
}

/// A sub-machine as a Parallel or Map state holds it: `Wrong` when it is not an object, or
/// when it lies deeper than `validate::MAX_DEPTH` (then it is not read at all).
pub(crate) type SubMachine<'a> = Field<'a, Box<StateMachine<'a>>>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NamedState<'a> {
    pub name: &'a str,
    /// `Wrong` when the state is not an object.
    pub state: Field<'a, State<'a>>,
}

/// `ProcessorConfig` of a Map's `ItemProcessor`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProcessorConfig<'a> {
    pub keys: Vec<&'a str>,
    pub mode: Field<'a, MapMode>,
    pub execution_type: Field<'a, ExecutionType>,
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
pub(crate) type NullablePath<'a> = Field<'a, Option<&'a str>>;

/// One state: the fields several types share (read whatever the type, so validate can report
/// them where they do not belong), then the type's own.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State<'a> {
    /// Every key as written, in order.
    pub keys: Vec<&'a str>,
    pub comment: Field<'a, &'a str>,
    pub query_language: Field<'a, QueryLanguage>,
    pub next: Field<'a, &'a str>,
    pub end: Field<'a, bool>,
    pub input_path: NullablePath<'a>,
    pub output_path: NullablePath<'a>,
    pub result_path: NullablePath<'a>,
    pub parameters: Option<&'a Value>,
    pub result_selector: Option<&'a Value>,
    pub assign: Option<&'a Value>,
    pub output: Option<&'a Value>,
    pub arguments: Option<&'a Value>,
    pub retry: Field<'a, Vec<Field<'a, Retrier<'a>>>>,
    pub catch: Field<'a, Vec<Field<'a, Catcher<'a>>>>,
    /// The type and its fields: `Absent` without `Type`, `Wrong` (the raw `Type`) for a type
    /// Step Functions does not have.
    pub kind: Field<'a, Kind<'a>>,
    /// Fields of other state types written here, raw (validate reports them, and still
    /// checks the JSONata and path values among them as AWS does).
    pub foreign: Vec<(&'a str, &'a Value)>,
}

impl<'a> State<'a> {
    /// A field holding a value (path, expression or literal) by its name: this type's, or a
    /// foreign one. For validate's checks that go by field name across types.
    pub(crate) fn value(&self, name: &str) -> Option<&'a Value> {
        let own = match &self.kind {
            Field::Ok(kind) => kind.value(name),
            _ => None,
        };
        own.or_else(|| {
            self.foreign
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        })
    }
}

/// A state's type with the fields only that type has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind<'a> {
    Pass(Pass<'a>),
    Task(Task<'a>),
    Choice(Choice<'a>),
    Wait(Wait<'a>),
    Succeed,
    Fail(Fail<'a>),
    Parallel(Parallel<'a>),
    Map(Box<MapState<'a>>),
}

impl<'a> Kind<'a> {
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
    fn value(&self, name: &str) -> Option<&'a Value> {
        match (self, name) {
            (Kind::Pass(p), "Result") => p.result,
            (Kind::Task(t), "TimeoutSeconds") => t.timeout_seconds,
            (Kind::Task(t), "HeartbeatSeconds") => t.heartbeat_seconds,
            (Kind::Task(t), "Credentials") => t.credentials,
            (Kind::Wait(w), "Seconds") => w.seconds,
            (Kind::Wait(w), "Timestamp") => w.timestamp,
            (Kind::Fail(f), "Error") => f.error,
            (Kind::Fail(f), "Cause") => f.cause,
            (Kind::Map(m), "ItemSelector") => m.item_selector,
            (Kind::Map(m), "Items") => m.items,
            (Kind::Map(m), "MaxConcurrency") => m.max_concurrency,
            (Kind::Map(m), "ToleratedFailureCount") => m.tolerated_failure_count,
            (Kind::Map(m), "ToleratedFailurePercentage") => m.tolerated_failure_percentage,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pass<'a> {
    /// Static: any JSON.
    pub result: Option<&'a Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Task<'a> {
    pub resource: Field<'a, &'a str>,
    /// An integer, or a JSONata expression.
    pub timeout_seconds: Option<&'a Value>,
    pub timeout_seconds_path: Field<'a, &'a str>,
    pub heartbeat_seconds: Option<&'a Value>,
    pub heartbeat_seconds_path: Field<'a, &'a str>,
    /// `RoleArn` or `RoleArn.$`: a small payload template.
    pub credentials: Option<&'a Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice<'a> {
    pub choices: Field<'a, Vec<Field<'a, ChoiceRule<'a>>>>,
    pub default: Field<'a, &'a str>,
}

/// A Choice Rule: a top-level one (with `Next`, perhaps `Assign` / `Output`), or one nested
/// in `And`, `Or` or `Not`. JSONPath rules compare; JSONata rules hold a `Condition`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChoiceRule<'a> {
    /// Every key as written, in order.
    pub keys: Vec<&'a str>,
    pub next: Field<'a, &'a str>,
    pub comment: Field<'a, &'a str>,
    pub assign: Option<&'a Value>,
    pub output: Option<&'a Value>,
    /// A boolean or a JSONata expression.
    pub condition: Option<&'a Value>,
    pub variable: Field<'a, &'a str>,
    pub and: Field<'a, Vec<Field<'a, ChoiceRule<'a>>>>,
    pub or: Field<'a, Vec<Field<'a, ChoiceRule<'a>>>>,
    /// `Wrong` when not an object.
    pub not: Option<Box<Field<'a, ChoiceRule<'a>>>>,
    /// Comparison operators as written (`StringEquals`, `NumericLessThanPath` …) with their
    /// operands, in order; whether a name is an operator is validate's to say.
    pub comparisons: Vec<(&'a str, &'a Value)>,
}

impl<'a> ChoiceRule<'a> {
    /// The operand written under `key`, be it a comparison or another field.
    pub(crate) fn comparison(&self, key: &str) -> Option<&'a Value> {
        self.comparisons
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wait<'a> {
    /// An integer, or a JSONata expression.
    pub seconds: Option<&'a Value>,
    /// An RFC 3339 string, or a JSONata expression.
    pub timestamp: Option<&'a Value>,
    pub seconds_path: Field<'a, &'a str>,
    pub timestamp_path: Field<'a, &'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fail<'a> {
    /// A string, or a JSONata expression.
    pub error: Option<&'a Value>,
    pub cause: Option<&'a Value>,
    /// A path or an intrinsic call.
    pub error_path: Field<'a, &'a str>,
    pub cause_path: Field<'a, &'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parallel<'a> {
    pub branches: Field<'a, Vec<SubMachine<'a>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MapState<'a> {
    pub item_processor: Option<SubMachine<'a>>,
    /// The legacy spelling of `ItemProcessor`.
    pub iterator: Option<SubMachine<'a>>,
    pub item_reader: Field<'a, &'a Map<String, Value>>,
    pub item_selector: Option<&'a Value>,
    pub item_batcher: Field<'a, ItemBatcher<'a>>,
    pub result_writer: Field<'a, &'a Map<String, Value>>,
    pub max_concurrency: Option<&'a Value>,
    pub max_concurrency_path: Field<'a, &'a str>,
    pub tolerated_failure_count: Option<&'a Value>,
    pub tolerated_failure_count_path: Field<'a, &'a str>,
    pub tolerated_failure_percentage: Option<&'a Value>,
    pub tolerated_failure_percentage_path: Field<'a, &'a str>,
    pub label: Field<'a, &'a str>,
    /// JSONata: an array template or an expression.
    pub items: Option<&'a Value>,
    pub items_path: NullablePath<'a>,
}

/// A Map's `ItemBatcher`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemBatcher<'a> {
    pub max_items_per_batch: Option<&'a Value>,
    pub max_items_per_batch_path: Field<'a, &'a str>,
    pub max_input_bytes_per_batch: Option<&'a Value>,
    pub max_input_bytes_per_batch_path: Field<'a, &'a str>,
    pub batch_input: Option<&'a Value>,
}

/// One entry of `Retry`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retrier<'a> {
    /// Every key as written, in order (unknown ones included).
    pub keys: Vec<&'a str>,
    pub error_equals: Field<'a, Vec<Field<'a, &'a str>>>,
    pub comment: Field<'a, &'a str>,
    pub interval_seconds: Field<'a, &'a Number>,
    pub max_attempts: Field<'a, &'a Number>,
    pub max_delay_seconds: Field<'a, &'a Number>,
    pub backoff_rate: Field<'a, &'a Number>,
    pub jitter_strategy: Field<'a, Jitter>,
}

/// `JitterStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    Full,
    None,
}

/// One entry of `Catch`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catcher<'a> {
    /// Every key as written, in order (unknown ones included).
    pub keys: Vec<&'a str>,
    pub error_equals: Field<'a, Vec<Field<'a, &'a str>>>,
    pub next: Field<'a, &'a str>,
    pub comment: Field<'a, &'a str>,
    pub assign: Option<&'a Value>,
    pub result_path: NullablePath<'a>,
    pub output: Option<&'a Value>,
}

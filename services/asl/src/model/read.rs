//! JSON → the typed [`StateMachine`], once per definition. Reading never fails: what has the
//! right type is kept typed, what has not is kept raw for validate to name, and nesting past
//! validate's limits is left unread (validate reports the depth before anything else there).

use super::definition::{
    Catcher, Choice, ChoiceRule, ExecutionType, Fail, Field, ItemBatcher, Jitter, Kind, MapMode,
    MapState, NamedState, NullablePath, Parallel, Pass, ProcessorConfig, Retrier, State,
    StateMachine, SubMachine, Task, Wait,
};
use super::{type_fields, QueryLanguage, StateType};
use crate::validate::{MAX_DEPTH, MAX_VALUE_DEPTH};
use serde_json::{Map, Number, Value};

/// Fields several state types share: read into [`State`] whatever the type.
const SHARED_FIELDS: &[&str] = &[
    "Type",
    "Comment",
    "QueryLanguage",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Assign",
    "Output",
    "Arguments",
    "Retry",
    "Catch",
];

/// Keys of a Choice Rule that are not comparison operators.
const RULE_FIELDS: &[&str] = &[
    "Next",
    "Comment",
    "Assign",
    "Output",
    "Condition",
    "Variable",
    "And",
    "Or",
    "Not",
];

impl<'a> StateMachine<'a> {
    /// Reads a definition; `None` when it is not a JSON object.
    pub(crate) fn read(definition: &'a Value) -> Option<StateMachine<'a>> {
        definition.as_object().map(|obj| machine(obj, 0))
    }
}

/// What a part left unread (nested past validate's limits) holds in place of its value.
static NOT_READ: Value = Value::Null;

fn keys(obj: &Map<String, Value>) -> Vec<&str> {
    obj.keys().map(String::as_str).collect()
}

/// A field read with `typed`, which says `None` when the value is not of the type.
fn field<'a, T>(
    obj: &'a Map<String, Value>,
    key: &str,
    typed: impl Fn(&'a Value) -> Option<T>,
) -> Field<'a, T> {
    match obj.get(key) {
        None => Field::Absent,
        Some(value) => typed(value).map_or(Field::Wrong(value), Field::Ok),
    }
}

fn string<'a>(obj: &'a Map<String, Value>, key: &str) -> Field<'a, &'a str> {
    field(obj, key, Value::as_str)
}

fn number<'a>(obj: &'a Map<String, Value>, key: &str) -> Field<'a, &'a Number> {
    field(obj, key, |v| match v {
        Value::Number(n) => Some(n),
        _ => None,
    })
}

fn nullable_path<'a>(obj: &'a Map<String, Value>, key: &str) -> NullablePath<'a> {
    field(obj, key, |v| match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.as_str())),
        _ => None,
    })
}

fn value<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
}

fn list<'a, T>(
    obj: &'a Map<String, Value>,
    key: &str,
    item: impl Fn(&'a Value) -> Field<'a, T>,
) -> Field<'a, Vec<Field<'a, T>>> {
    field(obj, key, |v| {
        v.as_array().map(|items| items.iter().map(&item).collect())
    })
}

fn object<'a, T>(value: &'a Value, read: impl FnOnce(&'a Map<String, Value>) -> T) -> Field<'a, T> {
    match value.as_object() {
        Some(obj) => Field::Ok(read(obj)),
        None => Field::Wrong(value),
    }
}

fn machine(obj: &Map<String, Value>, depth: usize) -> StateMachine<'_> {
    StateMachine {
        keys: keys(obj),
        comment: string(obj, "Comment"),
        start_at: string(obj, "StartAt"),
        states: field(obj, "States", |v| {
            v.as_object().map(|states| {
                states
                    .iter()
                    .map(|(name, state)| NamedState {
                        name: name.as_str(),
                        state: object(state, |s| read_state(s, depth)),
                    })
                    .collect()
            })
        }),
        version: string(obj, "Version"),
        timeout_seconds: number(obj, "TimeoutSeconds"),
        query_language: field(obj, "QueryLanguage", QueryLanguage::parse),
        processor_config: field(obj, "ProcessorConfig", |v| {
            v.as_object().map(|config| ProcessorConfig {
                keys: keys(config),
                mode: field(config, "Mode", |m| match m.as_str()? {
                    "INLINE" => Some(MapMode::Inline),
                    "DISTRIBUTED" => Some(MapMode::Distributed),
                    _ => None,
                }),
                execution_type: field(config, "ExecutionType", |t| match t.as_str()? {
                    "STANDARD" => Some(ExecutionType::Standard),
                    "EXPRESS" => Some(ExecutionType::Express),
                    _ => None,
                }),
            })
        }),
    }
}

/// A Parallel branch or Map processor, `depth` levels down.
fn sub_machine(value: &Value, depth: usize) -> SubMachine<'_> {
    if depth > MAX_DEPTH {
        // Not read: validate stops at the depth, and reading on would recurse without bound.
        return Field::Wrong(&NOT_READ);
    }
    object(value, |obj| Box::new(machine(obj, depth)))
}

/// A state of a machine `depth` levels down.
fn read_state(obj: &Map<String, Value>, depth: usize) -> State<'_> {
    let kind = field(obj, "Type", |t| {
        let state_type = StateType::parse(t.as_str()?)?;
        Some(read_kind(obj, state_type, depth))
    });
    let own: &[(&str, super::Lang)] = match &kind {
        Field::Ok(kind) => type_fields(kind.state_type()),
        _ => &[],
    };
    let foreign = obj
        .iter()
        .filter(|(key, _)| {
            !SHARED_FIELDS.contains(&key.as_str()) && !own.iter().any(|(f, _)| f == key)
        })
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    State {
        keys: keys(obj),
        comment: string(obj, "Comment"),
        query_language: field(obj, "QueryLanguage", QueryLanguage::parse),
        next: string(obj, "Next"),
        end: field(obj, "End", Value::as_bool),
        input_path: nullable_path(obj, "InputPath"),
        output_path: nullable_path(obj, "OutputPath"),
        result_path: nullable_path(obj, "ResultPath"),
        parameters: value(obj, "Parameters"),
        result_selector: value(obj, "ResultSelector"),
        assign: value(obj, "Assign"),
        output: value(obj, "Output"),
        arguments: value(obj, "Arguments"),
        retry: list(obj, "Retry", |r| object(r, retrier)),
        catch: list(obj, "Catch", |c| object(c, catcher)),
        kind,
        foreign,
    }
}

fn read_kind(obj: &Map<String, Value>, state_type: StateType, depth: usize) -> Kind<'_> {
    match state_type {
        StateType::Pass => Kind::Pass(Pass {
            result: value(obj, "Result"),
        }),
        StateType::Task => Kind::Task(Task {
            resource: string(obj, "Resource"),
            timeout_seconds: value(obj, "TimeoutSeconds"),
            timeout_seconds_path: string(obj, "TimeoutSecondsPath"),
            heartbeat_seconds: value(obj, "HeartbeatSeconds"),
            heartbeat_seconds_path: string(obj, "HeartbeatSecondsPath"),
            credentials: value(obj, "Credentials"),
        }),
        StateType::Choice => Kind::Choice(Choice {
            choices: list(obj, "Choices", |r| choice_rule(r, 0)),
            default: string(obj, "Default"),
        }),
        StateType::Wait => Kind::Wait(Wait {
            seconds: value(obj, "Seconds"),
            timestamp: value(obj, "Timestamp"),
            seconds_path: string(obj, "SecondsPath"),
            timestamp_path: string(obj, "TimestampPath"),
        }),
        StateType::Succeed => Kind::Succeed,
        StateType::Fail => Kind::Fail(Fail {
            error: value(obj, "Error"),
            cause: value(obj, "Cause"),
            error_path: string(obj, "ErrorPath"),
            cause_path: string(obj, "CausePath"),
        }),
        StateType::Parallel => Kind::Parallel(Parallel {
            branches: field(obj, "Branches", |v| {
                v.as_array()
                    .map(|items| items.iter().map(|b| sub_machine(b, depth + 1)).collect())
            }),
        }),
        StateType::Map => Kind::Map(Box::new(MapState {
            item_processor: obj.get("ItemProcessor").map(|p| sub_machine(p, depth + 1)),
            iterator: obj.get("Iterator").map(|p| sub_machine(p, depth + 1)),
            item_reader: field(obj, "ItemReader", Value::as_object),
            item_selector: value(obj, "ItemSelector"),
            item_batcher: field(obj, "ItemBatcher", |v| {
                v.as_object().map(|batcher| ItemBatcher {
                    max_items_per_batch: value(batcher, "MaxItemsPerBatch"),
                    max_items_per_batch_path: string(batcher, "MaxItemsPerBatchPath"),
                    max_input_bytes_per_batch: value(batcher, "MaxInputBytesPerBatch"),
                    max_input_bytes_per_batch_path: string(batcher, "MaxInputBytesPerBatchPath"),
                    batch_input: value(batcher, "BatchInput"),
                })
            }),
            result_writer: field(obj, "ResultWriter", Value::as_object),
            max_concurrency: value(obj, "MaxConcurrency"),
            max_concurrency_path: string(obj, "MaxConcurrencyPath"),
            tolerated_failure_count: value(obj, "ToleratedFailureCount"),
            tolerated_failure_count_path: string(obj, "ToleratedFailureCountPath"),
            tolerated_failure_percentage: value(obj, "ToleratedFailurePercentage"),
            tolerated_failure_percentage_path: string(obj, "ToleratedFailurePercentagePath"),
            label: string(obj, "Label"),
            items: value(obj, "Items"),
            items_path: nullable_path(obj, "ItemsPath"),
        })),
    }
}

fn error_equals(obj: &Map<String, Value>) -> Field<'_, Vec<Field<'_, &str>>> {
    list(obj, "ErrorEquals", |name| match name {
        Value::String(s) => Field::Ok(s.as_str()),
        other => Field::Wrong(other),
    })
}

fn retrier(obj: &Map<String, Value>) -> Retrier<'_> {
    Retrier {
        keys: keys(obj),
        error_equals: error_equals(obj),
        comment: string(obj, "Comment"),
        interval_seconds: number(obj, "IntervalSeconds"),
        max_attempts: number(obj, "MaxAttempts"),
        max_delay_seconds: number(obj, "MaxDelaySeconds"),
        backoff_rate: number(obj, "BackoffRate"),
        jitter_strategy: field(obj, "JitterStrategy", |v| match v.as_str()? {
            "FULL" => Some(Jitter::Full),
            "NONE" => Some(Jitter::None),
            _ => None,
        }),
    }
}

fn catcher(obj: &Map<String, Value>) -> Catcher<'_> {
    Catcher {
        keys: keys(obj),
        error_equals: error_equals(obj),
        next: string(obj, "Next"),
        comment: string(obj, "Comment"),
        assign: value(obj, "Assign"),
        result_path: nullable_path(obj, "ResultPath"),
        output: value(obj, "Output"),
    }
}

/// A Choice Rule `depth` levels into `And` / `Or` / `Not`.
fn choice_rule(value: &Value, depth: usize) -> Field<'_, ChoiceRule<'_>> {
    if depth > MAX_VALUE_DEPTH {
        // Not read: validate stops at the depth, and reading on would recurse without bound.
        return Field::Wrong(&NOT_READ);
    }
    object(value, |obj| {
        let nested = |key: &str| list(obj, key, |r| choice_rule(r, depth + 1));
        ChoiceRule {
            keys: keys(obj),
            next: string(obj, "Next"),
            comment: string(obj, "Comment"),
            assign: self::value(obj, "Assign"),
            output: self::value(obj, "Output"),
            condition: self::value(obj, "Condition"),
            variable: string(obj, "Variable"),
            and: nested("And"),
            or: nested("Or"),
            not: obj
                .get("Not")
                .map(|rule| Box::new(choice_rule(rule, depth + 1))),
            comparisons: obj
                .iter()
                .filter(|(key, _)| !RULE_FIELDS.contains(&key.as_str()))
                .map(|(key, value)| (key.as_str(), value))
                .collect(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn only_state(definition: &Value) -> State<'_> {
        let machine = StateMachine::read(definition).expect("an object");
        let Field::Ok(mut states) = machine.states else {
            panic!("States is an object")
        };
        match states.remove(0).state {
            Field::Ok(state) => state,
            other => panic!("a state object, got {other:?}"),
        }
    }

    #[test]
    fn a_definition_that_is_not_an_object_is_not_read() {
        assert_eq!(StateMachine::read(&json!([1])), None);
    }

    #[test]
    fn fields_of_the_wrong_type_keep_their_raw_value() {
        let definition = json!({
            "StartAt": 7, "States": [], "Version": "1.0", "QueryLanguage": "XPath"
        });
        let machine = StateMachine::read(&definition).expect("an object");
        assert_eq!(machine.start_at, Field::Wrong(&json!(7)));
        assert_eq!(machine.states, Field::Wrong(&json!([])));
        assert_eq!(machine.version, Field::Ok("1.0"));
        assert_eq!(machine.query_language, Field::Wrong(&json!("XPath")));
        assert_eq!(machine.comment, Field::Absent);
        assert_eq!(
            machine.keys,
            ["StartAt", "States", "Version", "QueryLanguage"]
        );
    }

    #[test]
    fn a_state_keeps_its_keys_in_order_and_other_types_fields_raw() {
        let definition = json!({"StartAt": "A", "States": {"A": {
            "Type": "Pass", "Seconds": 5, "End": "yes", "Result": {"a": 1}, "Next": "B"
        }}});
        let state = only_state(&definition);
        assert_eq!(state.keys, ["Type", "Seconds", "End", "Result", "Next"]);
        assert_eq!(state.end, Field::Wrong(&json!("yes")));
        assert_eq!(state.next, Field::Ok("B"));
        assert_eq!(state.foreign, [("Seconds", &json!(5))]);
        assert_eq!(state.value("Seconds"), Some(&json!(5)));
        assert_eq!(state.value("Result"), Some(&json!({"a": 1})));
        assert!(matches!(state.kind, Field::Ok(Kind::Pass(_))));
    }

    #[test]
    fn an_unknown_type_keeps_the_raw_type() {
        let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Teleport"}}});
        let state = only_state(&definition);
        assert_eq!(state.kind, Field::Wrong(&json!("Teleport")));
    }

    #[test]
    fn retriers_and_catchers_are_read_entry_by_entry() {
        let definition = json!({"StartAt": "A", "States": {"A": {
            "Type": "Task", "Resource": "arn", "End": true,
            "Retry": [{"ErrorEquals": ["E", 3], "MaxAttempts": 2, "JitterStrategy": "SOME"}, 5],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A", "ResultPath": null}]
        }}});
        let state = only_state(&definition);
        let Field::Ok(retry) = &state.retry else {
            panic!("Retry is an array")
        };
        let Field::Ok(first) = &retry[0] else {
            panic!("an object")
        };
        assert_eq!(
            first.error_equals,
            Field::Ok(vec![Field::Ok("E"), Field::Wrong(&json!(3))])
        );
        assert_eq!(first.max_attempts, Field::Ok(&2.into()));
        assert_eq!(first.jitter_strategy, Field::Wrong(&json!("SOME")));
        assert_eq!(retry[1], Field::Wrong(&json!(5)));
        let Field::Ok(catch) = &state.catch else {
            panic!("Catch is an array")
        };
        let Field::Ok(catcher) = &catch[0] else {
            panic!("an object")
        };
        assert_eq!(catcher.result_path, Field::Ok(None));
        assert_eq!(catcher.next, Field::Ok("A"));
    }

    #[test]
    fn choice_rules_split_operators_from_their_fields() {
        let definition = json!({"StartAt": "A", "States": {"A": {
            "Type": "Choice", "Default": "A",
            "Choices": [{"Not": {"Variable": "$.x", "IsPresent": true}, "Next": "A"}, "rule"]
        }}});
        let state = only_state(&definition);
        let Field::Ok(Kind::Choice(choice)) = &state.kind else {
            panic!("a Choice")
        };
        let Field::Ok(rules) = &choice.choices else {
            panic!("an array")
        };
        let Field::Ok(rule) = &rules[0] else {
            panic!("an object")
        };
        assert!(rule.comparisons.is_empty());
        let Some(not) = &rule.not else {
            panic!("Not is read")
        };
        let Field::Ok(inner) = not.as_ref() else {
            panic!("an object")
        };
        assert_eq!(inner.variable, Field::Ok("$.x"));
        assert_eq!(inner.comparison("IsPresent"), Some(&json!(true)));
        assert_eq!(rules[1], Field::Wrong(&json!("rule")));
    }

    #[test]
    fn nesting_past_the_limit_is_left_unread() {
        // A Parallel state whose branch holds a Parallel … deeper than MAX_DEPTH.
        let mut branch = json!({"StartAt": "L", "States": {"L": {"Type": "Succeed"}}});
        for _ in 0..=MAX_DEPTH {
            branch = json!({"StartAt": "P", "States": {"P": {
                "Type": "Parallel", "End": true, "Branches": [branch]
            }}});
        }
        let mut machine = StateMachine::read(&branch).expect("an object");
        let mut depth = 0;
        loop {
            let Field::Ok(mut states) = machine.states else {
                panic!("States")
            };
            let Field::Ok(State {
                kind: Field::Ok(Kind::Parallel(p)),
                ..
            }) = states.remove(0).state
            else {
                break;
            };
            let Field::Ok(mut branches) = p.branches else {
                panic!("Branches")
            };
            match branches.remove(0) {
                Field::Ok(next) => machine = *next,
                Field::Wrong(raw) => {
                    assert_eq!(raw, &Value::Null, "left unread");
                    break;
                }
                Field::Absent => panic!("a branch"),
            }
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
    }
}

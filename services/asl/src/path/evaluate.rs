//! Evaluating a parsed path on a borrowed `&Value`: the allocation-free definite chain,
//! the breadth-first indefinite walk, deep scans, Jayway's index and slice rules, and the
//! trailing functions (`.length()` …).

use super::{Body, Func, Step};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// A Jayway index (negative counts from the end) into an array of `len`, if in range.
pub(super) fn resolve_index(len: usize, index: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { len + index } else { index };
    if (0..len).contains(&at) {
        usize::try_from(at).ok()
    } else {
        None
    }
}

/// Jayway's slice semantics, quirks included: `[a:b]` does not resolve a negative `b`, and
/// walks a negative `a` through the end of the array (`[-1:1]` on `[x,y,z]` is `[z,x]`).
pub(super) fn slice_indices(len: usize, from: Option<i64>, to: Option<i64>) -> Vec<usize> {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    if n == 0 {
        return Vec::new();
    }
    let (start, end) = match (from, to) {
        (Some(from), None) => {
            let from = if from < 0 {
                n.saturating_add(from)
            } else {
                from
            };
            (from.max(0), n)
        }
        (None, Some(to)) => {
            let to = if to < 0 { n.saturating_add(to) } else { to };
            (0, to.min(n))
        }
        // Indexes below -len resolve to nothing, so start there to bound the walk.
        (Some(from), Some(to)) => (from.max(-n), to.min(n)),
        (None, None) => (0, n),
    };
    (start..end).filter_map(|i| resolve_index(len, i)).collect()
}

impl Body {
    /// `None` when a definite path (or a function) finds nothing.
    #[inline]
    pub(super) fn eval<'a>(&self, start: &'a Value, document: &'a Value) -> Option<Cow<'a, Value>> {
        let selected = if self.prefix_definite {
            match self.steps.split_last() {
                Some((Step::Fields(names), init)) => {
                    Cow::Owned(merge(names, lookup(init, start)?)?)
                }
                _ => Cow::Borrowed(lookup(&self.steps, start)?),
            }
        } else {
            let found = collect(&self.steps, start, document);
            Cow::Owned(Value::Array(
                found.into_iter().map(Cow::into_owned).collect(),
            ))
        };
        match self.func {
            None => Some(selected),
            Some(func) => func.apply(&selected).map(Cow::Owned),
        }
    }
}

/// Objects up to this many members are searched in order rather than through the hash.
pub(super) const SMALL_OBJECT: usize = 8;

/// A member by name. serde_json's map hashes every key looked up with SipHash; for the
/// small objects state machines mostly pass around, comparing the names in order costs
/// less than hashing one (the order machine spent a tenth of its time in SipHash).
pub(crate) fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if map.len() <= SMALL_OBJECT {
        map.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    } else {
        map.get(name)
    }
}

/// `field`, for writing.
pub(super) fn field_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    if map.len() <= SMALL_OBJECT {
        map.iter_mut()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    } else {
        map.get_mut(name)
    }
}

/// The hot path: a chain of names and indexes, no allocation.
#[inline]
pub(super) fn lookup<'a>(steps: &[Step], mut current: &'a Value) -> Option<&'a Value> {
    for step in steps {
        current = match (step, current) {
            (Step::Field(name), Value::Object(map)) => field(map, name)?,
            (Step::Index(index), Value::Array(items)) => {
                items.get(resolve_index(items.len(), *index)?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// Jayway's leaf property union: one object with those of the properties that exist.
pub(super) fn merge(names: &[String], value: &Value) -> Option<Value> {
    let map = value.as_object()?;
    let mut merged = Map::new();
    for name in names {
        if let Some(v) = field(map, name) {
            merged.insert(name.clone(), v.clone());
        }
    }
    Some(Value::Object(merged))
}

/// Evaluates an indefinite chain breadth-first over a working set of borrowed values.
pub(super) fn collect<'a>(
    steps: &[Step],
    start: &'a Value,
    document: &'a Value,
) -> Vec<Cow<'a, Value>> {
    let mut current = vec![start];
    let mut next = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if let (Step::Fields(names), true) = (step, i + 1 == steps.len()) {
            return current
                .into_iter()
                .filter_map(|v| merge(names, v))
                .map(Cow::Owned)
                .collect();
        }
        for value in current.drain(..) {
            apply_step(step, value, document, &mut next);
        }
        std::mem::swap(&mut current, &mut next);
    }
    current.into_iter().map(Cow::Borrowed).collect()
}

pub(super) fn apply_step<'a>(
    step: &Step,
    value: &'a Value,
    document: &'a Value,
    out: &mut Vec<&'a Value>,
) {
    match (step, value) {
        (Step::Field(name), Value::Object(map)) => out.extend(field(map, name)),
        (Step::Fields(names), Value::Object(map)) => {
            out.extend(names.iter().filter_map(|n| field(map, n)));
        }
        (Step::Index(index), Value::Array(items)) => {
            out.extend(resolve_index(items.len(), *index).map(|i| &items[i]));
        }
        (Step::Indexes(indexes), Value::Array(items)) => out.extend(
            indexes
                .iter()
                .filter_map(|&i| resolve_index(items.len(), i))
                .map(|i| &items[i]),
        ),
        (Step::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Step::Wildcard, Value::Array(items)) => out.extend(items.iter()),
        (Step::Slice(from, to), Value::Array(items)) => out.extend(
            slice_indices(items.len(), *from, *to)
                .into_iter()
                .map(|i| &items[i]),
        ),
        (Step::Filter(expr), Value::Array(items)) => {
            out.extend(items.iter().filter(|item| expr.matches(item, document)));
        }
        (Step::Filter(expr), Value::Object(_)) if expr.matches(value, document) => {
            out.push(value);
        }
        (Step::Scan(inner), _) => scan(inner, value, document, out),
        _ => {}
    }
}

/// `..step`: applies `step` at every container in document order (a node, then each of
/// its children in turn), as Jayway's scan does. Iterative, so deep documents cannot
/// overflow the stack.
pub(super) fn scan<'a>(
    step: &Step,
    value: &'a Value,
    document: &'a Value,
    out: &mut Vec<&'a Value>,
) {
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                match step {
                    // Jayway tests a scanned filter against each object itself.
                    Step::Filter(expr) => {
                        if expr.matches(node, document) {
                            out.push(node);
                        }
                    }
                    _ => apply_step(step, node, document, out),
                }
                stack.extend(map.values().rev());
            }
            Value::Array(items) => {
                if !matches!(step, Step::Filter(_)) {
                    apply_step(step, node, document, out);
                }
                stack.extend(items.iter().rev());
            }
            _ => {}
        }
    }
}

impl Func {
    pub(super) fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "length" => Func::Length,
            "min" => Func::Min,
            "max" => Func::Max,
            "avg" => Func::Avg,
            "sum" => Func::Sum,
            "stddev" => Func::Stddev,
            "keys" => Func::Keys,
            "first" => Func::First,
            "last" => Func::Last,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Func::Length => "length",
            Func::Min => "min",
            Func::Max => "max",
            Func::Avg => "avg",
            Func::Sum => "sum",
            Func::Stddev => "stddev",
            Func::Keys => "keys",
            Func::First => "first",
            Func::Last => "last",
        }
    }

    /// `length()`/`keys()` give null where they do not apply, as Jayway does; `first()`/
    /// `last()` of nothing and aggregations over no numbers find nothing (`None`).
    pub(super) fn apply(self, value: &Value) -> Option<Value> {
        match self {
            Func::Length => Some(match value {
                Value::Array(items) => Value::from(items.len()),
                Value::Object(map) => Value::from(map.len()),
                _ => Value::Null,
            }),
            Func::Keys => Some(match value {
                Value::Object(map) => map.keys().map(|k| Value::String(k.clone())).collect(),
                _ => Value::Null,
            }),
            Func::First => Some(value.as_array().and_then(|a| a.first()).cloned()?),
            Func::Last => Some(value.as_array().and_then(|a| a.last()).cloned()?),
            Func::Min | Func::Max | Func::Avg | Func::Sum | Func::Stddev => {
                let numbers: Vec<f64> =
                    value.as_array()?.iter().filter_map(Value::as_f64).collect();
                if numbers.is_empty() {
                    return None;
                }
                let count = numbers.len() as f64;
                let sum: f64 = numbers.iter().sum();
                // Jayway computes these as doubles, so 6 comes back as 6.0.
                let result = match self {
                    Func::Min => numbers.iter().copied().fold(f64::INFINITY, f64::min),
                    Func::Max => numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Func::Sum => sum,
                    Func::Avg => sum / count,
                    _ => {
                        let squares: f64 = numbers.iter().map(|x| x * x).sum();
                        (squares / count - (sum / count).powi(2)).max(0.0).sqrt()
                    }
                };
                Number::from_f64(result).map(Value::Number)
            }
        }
    }
}

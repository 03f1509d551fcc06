//! Filter expressions (`[?(@.price < 10)]`): Jayway's relational semantics on the
//! candidate (`@`) and the document (`$`).

use super::{Expr, Op, Operand, SubPath};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

impl Expr {
    pub(super) fn matches(&self, at: &Value, document: &Value) -> bool {
        match self {
            Expr::Or(terms) => terms.iter().any(|t| t.matches(at, document)),
            Expr::And(terms) => terms.iter().all(|t| t.matches(at, document)),
            Expr::Not(inner) => !inner.matches(at, document),
            Expr::Exists(path) => match path.eval(at, document) {
                // An indefinite path "exists" when it finds something.
                Some(Cow::Owned(Value::Array(items)))
                    if !path.body.prefix_definite && path.body.func.is_none() =>
                {
                    !items.is_empty()
                }
                Some(_) => true,
                None => false,
            },
            Expr::Compare(left, op, right) => {
                let left = left.eval(at, document);
                let right = right.eval(at, document);
                compare(left.as_deref(), *op, right.as_deref())
            }
        }
    }
}

impl SubPath {
    pub(super) fn eval<'a>(&self, at: &'a Value, document: &'a Value) -> Option<Cow<'a, Value>> {
        let start = if self.from_document { document } else { at };
        self.body.eval(start, document)
    }
}

impl Operand {
    pub(super) fn eval<'a>(&'a self, at: &'a Value, document: &'a Value) -> Option<Cow<'a, Value>> {
        match self {
            Operand::Literal(value) => Some(Cow::Borrowed(value)),
            Operand::Path(path) => path.eval(at, document),
        }
    }
}

/// Jayway's relational semantics: a missing operand equals nothing (so `!=` holds);
/// ordering applies only to two numbers or two strings.
pub(super) fn compare(left: Option<&Value>, op: Op, right: Option<&Value>) -> bool {
    match op {
        Op::Eq => equal(left, right),
        Op::Ne => !equal(left, right),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = match (left, right) {
                (Some(Value::Number(a)), Some(Value::Number(b))) => number_cmp(a, b),
                (Some(Value::String(a)), Some(Value::String(b))) => Some(a.cmp(b)),
                _ => None,
            };
            match (ordering, op) {
                (Some(o), Op::Lt) => o == Ordering::Less,
                (Some(o), Op::Le) => o != Ordering::Greater,
                (Some(o), Op::Gt) => o == Ordering::Greater,
                (Some(o), Op::Ge) => o != Ordering::Less,
                _ => false,
            }
        }
    }
}

pub(super) fn equal(left: Option<&Value>, right: Option<&Value>) -> bool {
    match (left, right) {
        (None, None) => true,
        (Some(Value::Number(a)), Some(Value::Number(b))) => {
            number_cmp(a, b) == Some(Ordering::Equal)
        }
        // Jayway coerces between number and string nodes when testing equality.
        (Some(Value::Number(n)), Some(Value::String(s)))
        | (Some(Value::String(s)), Some(Value::Number(n))) => {
            match (s.trim().parse::<f64>(), n.as_f64()) {
                (Ok(a), Some(b)) => a == b,
                _ => false,
            }
        }
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Exact for integers, via f64 otherwise (Jayway uses BigDecimal).
pub(super) fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

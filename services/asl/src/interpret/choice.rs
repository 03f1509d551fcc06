//! Choice rules: the comparison operators, their `…Path` forms, the `Is…` tests and
//! And/Or/Not, evaluated on the state's effective input.

use crate::path::Path;
use crate::timestamp;
use serde_json::Value;
use std::cmp::Ordering;

/// A compiled choice rule.
#[derive(Debug)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: Path,
        operator: Operator,
        operand: Operand,
    },
    /// A JSONata rule.
    Condition(Box<Condition>),
}

/// A JSONata Choice Rule: its test, and what it outputs and assigns when it matches.
#[derive(Debug)]
pub(crate) struct Condition {
    pub test: Test,
    pub output: Option<crate::jsonata::Tree>,
    pub assign: Option<crate::jsonata::Tree>,
}

/// A JSONata `Condition`.
#[derive(Debug)]
pub(crate) enum Test {
    Literal(bool),
    Expr(Box<crate::jsonata::Expr>),
}

/// What a comparison compares against.
#[derive(Debug)]
pub(crate) enum Operand {
    Value(Value),
    Path(Path),
}

macro_rules! operators {
    ($($name:ident),* $(,)?) => {
        /// Every comparison operator, named as in ASL (the `…Path` forms share a variant).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Operator { $($name),* }

        impl Operator {
            pub(crate) fn parse(name: &str) -> Option<Operator> {
                match name { $(stringify!($name) => Some(Operator::$name),)* _ => None }
            }
        }
    };
}

operators!(
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
);

/// The family an operator belongs to decides which operand type it takes.
enum Family {
    String,
    Numeric,
    Boolean,
    Timestamp,
    Test,
}

impl Operator {
    fn family(self) -> Family {
        use Operator::*;
        match self {
            StringEquals
            | StringLessThan
            | StringGreaterThan
            | StringLessThanEquals
            | StringGreaterThanEquals
            | StringMatches => Family::String,
            NumericEquals
            | NumericLessThan
            | NumericGreaterThan
            | NumericLessThanEquals
            | NumericGreaterThanEquals => Family::Numeric,
            BooleanEquals => Family::Boolean,
            TimestampEquals
            | TimestampLessThan
            | TimestampGreaterThan
            | TimestampLessThanEquals
            | TimestampGreaterThanEquals => Family::Timestamp,
            IsNull | IsPresent | IsNumeric | IsString | IsBoolean | IsTimestamp => Family::Test,
        }
    }

    /// Whether this is one of the `Is…` type tests.
    pub(crate) fn is_test(self) -> bool {
        matches!(self.family(), Family::Test)
    }

    /// Checks a literal operand's type at compile time.
    pub(crate) fn literal(self, operand: &Value) -> Result<Operand, String> {
        let fits = match self.family() {
            Family::String => operand.is_string(),
            Family::Numeric => operand.is_number(),
            Family::Boolean | Family::Test => operand.is_boolean(),
            Family::Timestamp => operand
                .as_str()
                .is_some_and(|s| timestamp::parse(s).is_some()),
        };
        if fits {
            Ok(Operand::Value(operand.clone()))
        } else {
            Err(format!(
                "the operand of {self:?} has the wrong type: {operand}"
            ))
        }
    }

    /// Applies the operator. `variable` is `None` when the Variable path selected nothing,
    /// which only the `Is…` tests accept.
    pub(crate) fn apply(self, variable: Option<&Value>, operand: &Value) -> bool {
        use Operator::*;
        if let Family::Test = self.family() {
            let expected = operand.as_bool().unwrap_or(false);
            let actual = match (self, variable) {
                (IsPresent, v) => v.is_some(),
                (_, None) => false,
                (IsNull, Some(v)) => v.is_null(),
                (IsNumeric, Some(v)) => v.is_number(),
                (IsString, Some(v)) => v.is_string(),
                (IsBoolean, Some(v)) => v.is_boolean(),
                (IsTimestamp, Some(v)) => v.as_str().is_some_and(|s| timestamp::parse(s).is_some()),
                _ => unreachable!("only tests reach here"),
            };
            // AWS: a test that does not apply to a missing variable is simply false.
            return if variable.is_none() && self != IsPresent {
                false
            } else {
                actual == expected
            };
        }
        let Some(variable) = variable else {
            return false;
        };
        let ordering = match self.family() {
            Family::String => match (variable.as_str(), operand.as_str()) {
                (Some(v), Some(o)) if self == StringMatches => return wildcard_match(o, v),
                (Some(v), Some(o)) => v.cmp(o),
                _ => return false,
            },
            Family::Numeric => match (variable.as_f64(), operand.as_f64()) {
                (Some(v), Some(o)) => match v.partial_cmp(&o) {
                    Some(ordering) => ordering,
                    None => return false,
                },
                _ => return false,
            },
            Family::Boolean => {
                return matches!((variable.as_bool(), operand.as_bool()), (Some(v), Some(o)) if v == o)
            }
            Family::Timestamp => {
                let parsed = |v: &Value| v.as_str().and_then(timestamp::parse);
                match (parsed(variable), parsed(operand)) {
                    (Some(v), Some(o)) => v.cmp(&o),
                    _ => return false,
                }
            }
            Family::Test => unreachable!("handled above"),
        };
        match self {
            StringEquals | NumericEquals | TimestampEquals => ordering == Ordering::Equal,
            StringLessThan | NumericLessThan | TimestampLessThan => ordering == Ordering::Less,
            StringGreaterThan | NumericGreaterThan | TimestampGreaterThan => {
                ordering == Ordering::Greater
            }
            StringLessThanEquals | NumericLessThanEquals | TimestampLessThanEquals => {
                ordering != Ordering::Greater
            }
            StringGreaterThanEquals | NumericGreaterThanEquals | TimestampGreaterThanEquals => {
                ordering != Ordering::Less
            }
            _ => unreachable!("every comparison is listed"),
        }
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    enum Token {
        Star,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Token::Char(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(Token::Star),
            c => tokens.push(Token::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Iterative glob matching with one backtrack point: linear in practice, never exponential.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Token::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|t| matches!(t, Token::Star))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yes(op: Operator, variable: Value, operand: Value) {
        assert!(
            op.apply(Some(&variable), &operand),
            "{op:?} {variable} {operand}"
        );
    }
    fn no(op: Operator, variable: Value, operand: Value) {
        assert!(
            !op.apply(Some(&variable), &operand),
            "{op:?} {variable} {operand}"
        );
    }

    #[test]
    fn boolean_equals() {
        yes(Operator::BooleanEquals, json!(true), json!(true));
        no(Operator::BooleanEquals, json!(false), json!(true));
        no(Operator::BooleanEquals, json!("true"), json!(true));
    }

    #[test]
    fn is_tests() {
        yes(Operator::IsBoolean, json!(false), json!(true));
        no(Operator::IsBoolean, json!(0), json!(true));
        yes(Operator::IsNull, json!(null), json!(true));
        yes(Operator::IsNumeric, json!(1.5), json!(true));
        yes(Operator::IsNumeric, json!("x"), json!(false));
        yes(Operator::IsPresent, json!(null), json!(true));
        assert!(Operator::IsPresent.apply(None, &json!(false)));
        assert!(!Operator::IsPresent.apply(None, &json!(true)));
        assert!(!Operator::IsNull.apply(None, &json!(false)));
        yes(Operator::IsString, json!(""), json!(true));
        yes(
            Operator::IsTimestamp,
            json!("2016-03-14T01:59:00Z"),
            json!(true),
        );
        no(
            Operator::IsTimestamp,
            json!("2016-03-14 01:59:00Z"),
            json!(true),
        );
    }

    #[test]
    fn numeric_comparisons() {
        yes(Operator::NumericEquals, json!(1), json!(1.0));
        no(Operator::NumericEquals, json!("1"), json!(1));
        yes(Operator::NumericGreaterThan, json!(2), json!(1));
        yes(Operator::NumericGreaterThanEquals, json!(1), json!(1));
        yes(Operator::NumericLessThan, json!(-1), json!(0));
        yes(Operator::NumericLessThanEquals, json!(0), json!(0));
        no(Operator::NumericLessThan, json!(1), json!(0));
    }

    #[test]
    fn string_comparisons_and_matches() {
        yes(Operator::StringEquals, json!("a"), json!("a"));
        no(Operator::StringEquals, json!(1), json!("1"));
        yes(Operator::StringLessThan, json!("a"), json!("b"));
        yes(Operator::StringGreaterThanEquals, json!("b"), json!("b"));
        yes(
            Operator::StringMatches,
            json!("log-2024.txt"),
            json!("log-*.txt"),
        );
        no(
            Operator::StringMatches,
            json!("log-2024.csv"),
            json!("log-*.txt"),
        );
        yes(Operator::StringMatches, json!("a*b"), json!("a\\*b"));
        no(Operator::StringMatches, json!("axb"), json!("a\\*b"));
        yes(Operator::StringMatches, json!(""), json!("*"));
        no(
            Operator::StringMatches,
            json!("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"),
            json!("*a*a*a*a*a*a*c"),
        );
    }

    #[test]
    fn timestamp_comparisons() {
        yes(
            Operator::TimestampEquals,
            json!("2016-03-14T01:59:00Z"),
            json!("2016-03-14T02:59:00+01:00"),
        );
        yes(
            Operator::TimestampLessThan,
            json!("2016-03-14T01:59:00Z"),
            json!("2016-03-14T01:59:00.001Z"),
        );
        no(
            Operator::TimestampGreaterThan,
            json!("not a time"),
            json!("2016-03-14T01:59:00Z"),
        );
    }

    #[test]
    fn literal_operands_are_type_checked() {
        assert!(Operator::NumericEquals.literal(&json!("1")).is_err());
        assert!(Operator::TimestampEquals
            .literal(&json!("yesterday"))
            .is_err());
        assert!(Operator::IsNull.literal(&json!(true)).is_ok());
    }
}

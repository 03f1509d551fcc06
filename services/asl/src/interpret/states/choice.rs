//! The Choice state's work: JSONPath rules (And/Or/Not, comparisons) and JSONata
//! Conditions evaluated against a state's scope.

use super::super::choice::{Operand, Operator, Rule, Test};
use super::super::run::Run;
use super::super::scope::{Scope, Selected};
use crate::error::StatesError;
use serde_json::Value;
use std::borrow::Cow;

impl<'a> Run<'a> {
    pub(crate) fn matches(&self, rule: &Rule, scope: &Scope<'_>) -> Result<bool, StatesError> {
        Ok(match rule {
            Rule::And(rules) => {
                for rule in rules {
                    if !self.matches(rule, scope)? {
                        return Ok(false);
                    }
                }
                true
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if self.matches(rule, scope)? {
                        return Ok(true);
                    }
                }
                false
            }
            Rule::Not(rule) => !self.matches(rule, scope)?,
            Rule::Condition(condition) => match &condition.test {
                Test::Literal(b) => *b,
                Test::Expr(expr) => {
                    scope.jsonata(None, None, |s| match s.value(expr, "Condition")? {
                        Value::Bool(b) => Ok(b),
                        other => Err(s.unexpected(expr, "Condition", "boolean", &other)),
                    })?
                }
            },
            Rule::Compare {
                variable,
                operator,
                operand,
            } => {
                // Only the `Is…` tests may look at a Variable that selects nothing; any
                // other comparison fails the execution (AWS, "Choice workflow state": "If
                // the state input doesn't contain the `$.type` field, the execution fails").
                // `IsPresent` also answers for a variable that was never assigned.
                let value = match scope.select(variable) {
                    Ok(value) => Some(value),
                    Err(Selected::Missing(_)) if operator.is_test() => None,
                    Err(Selected::Undefined(_)) if *operator == Operator::IsPresent => None,
                    Err(Selected::Missing(_)) => {
                        return Err(scope.runtime(format!(
                            "Invalid path '{}': The choice state's condition path references an invalid value.",
                            variable.as_str()
                        )))
                    }
                    Err(Selected::Undefined(name)) => return Err(scope.undefined(&name)),
                };
                let operand = match operand {
                    Operand::Value(v) => Cow::Borrowed(v),
                    Operand::Path(path) => match scope.select(path) {
                        Ok(v) => v,
                        Err(Selected::Missing(_)) => {
                            return Err(scope.runtime(format!(
                                "Invalid path '{}': The choice state's condition path references an invalid value.",
                                path.as_str()
                            )))
                        }
                        Err(Selected::Undefined(name)) => return Err(scope.undefined(&name)),
                    },
                };
                operator.apply(value.as_deref(), &operand)
            }
        })
    }
}

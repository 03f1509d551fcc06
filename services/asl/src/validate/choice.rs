//! Choice states: JSONPath Choice Rules (one comparison operator, or And/Or/Not, with the
//! operand each operator takes) and JSONata `Condition` rules.

use super::fields::is_jsonata_expr;
use super::machine::Names;
use super::{child, is_rfc3339, Validator, MAX_VALUE_DEPTH};
use crate::model::definition::{Choice, ChoiceRule, Field};
use crate::model::QueryLanguage;
use crate::path::Path;
use serde_json::Value;

/// What a Choice comparison operator compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operand {
    Str,
    Num,
    Bool,
    Timestamp,
    Path,
    Test,
}

pub(crate) const OPERATORS: &[(&str, Operand)] = &[
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

impl Validator {
    pub(crate) fn choice<'a>(
        &mut self,
        choice: &'a Choice<'a>,
        ptr: &str,
        ql: QueryLanguage,
        scope: &Names,
        targets: &mut Vec<&'a str>,
    ) {
        let choices_ptr = child(ptr, "Choices");
        match &choice.choices {
            Field::Absent => self.required(ptr, &["Choices"]),
            Field::Ok(rules) if rules.is_empty() => {
                self.schema(&choices_ptr, "Value cannot be empty".into())
            }
            Field::Ok(rules) => {
                for (i, rule) in rules.iter().enumerate() {
                    let rule_ptr = child(&choices_ptr, &i.to_string());
                    if ql == QueryLanguage::Jsonata {
                        self.jsonata_rule(rule, &rule_ptr);
                    } else {
                        self.rule(rule, &rule_ptr, true, 0);
                    }
                    if let Field::Ok(rule) = rule {
                        self.target(&rule.next, &rule_ptr, "Next", scope, targets);
                        if let Some(assign) = &rule.assign {
                            self.assign(assign, &child(&rule_ptr, "Assign"), ql);
                        }
                    }
                }
            }
            Field::Wrong(_) => self.schema(
                &choices_ptr,
                "The value for the field 'Choices' must be an ARRAY".into(),
            ),
        }
        self.target(&choice.default, ptr, "Default", scope, targets);
    }

    pub(crate) fn jsonata_rule(&mut self, rule: &Field<'_, ChoiceRule<'_>>, ptr: &str) {
        let Field::Ok(rule) = rule else {
            self.schema(ptr, "A Choice Rule must be an OBJECT".into());
            return;
        };
        let missing: Vec<&str> = [
            ("Condition", rule.condition.is_some()),
            ("Next", rule.next.is_present()),
        ]
        .into_iter()
        .filter(|(_, present)| !present)
        .map(|(f, _)| f)
        .collect();
        self.required(ptr, &missing);
        for &key in &rule.keys {
            match key {
                "Condition" => {
                    let Some(value) = &rule.condition else {
                        continue;
                    };
                    if !(value.is_boolean() || is_jsonata_expr(value)) {
                        self.schema(
                            &child(ptr, key),
                            "The value for the field 'Condition' must be a JSONata expression or a BOOLEAN".into(),
                        );
                    }
                    self.jsonata_parse(value, &child(ptr, key));
                }
                "Output" => {
                    if let Some(output) = &rule.output {
                        self.jsonata_value(output, &child(ptr, key), 0);
                    }
                }
                "Next" | "Comment" | "Assign" => {}
                _ if OPERATORS.iter().any(|(op, _)| *op == key)
                    || matches!(key, "Variable" | "And" | "Or" | "Not") =>
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
    pub(crate) fn rule(
        &mut self,
        rule: &Field<'_, ChoiceRule<'_>>,
        ptr: &str,
        top: bool,
        depth: usize,
    ) {
        if depth > MAX_VALUE_DEPTH {
            self.schema(ptr, "Choice Rule is nested too deeply".into());
            return;
        }
        let Field::Ok(rule) = rule else {
            self.schema(ptr, "A Choice Rule must be an OBJECT".into());
            return;
        };
        if top && !rule.next.is_present() {
            self.required(ptr, &["Next"]);
        }
        let mut operators = Vec::new();
        for &key in &rule.keys {
            let field_ptr = child(ptr, key);
            match key {
                "Next" | "Assign" if top => {}
                "Comment" => self.string_field(&rule.comment, ptr, key),
                "Variable" => self.path_field(&rule.variable, ptr, key),
                "And" | "Or" => {
                    operators.push(key);
                    let items = if key == "And" { &rule.and } else { &rule.or };
                    match items {
                        Field::Ok(items) if !items.is_empty() => {
                            for (i, item) in items.iter().enumerate() {
                                self.rule(
                                    item,
                                    &child(&field_ptr, &i.to_string()),
                                    false,
                                    depth + 1,
                                );
                            }
                        }
                        _ => self.schema(
                            &field_ptr,
                            format!("The value for the field '{key}' must be a non-empty ARRAY"),
                        ),
                    }
                }
                "Not" => {
                    operators.push(key);
                    if let Some(not) = &rule.not {
                        self.rule(not, &field_ptr, false, depth + 1);
                    }
                }
                "Output" | "Condition" => self.schema(
                    ptr,
                    format!(
                        "The field '{key}' is not supported when 'QueryLanguage' is 'JSONPath'"
                    ),
                ),
                _ => match (
                    OPERATORS.iter().find(|(op, _)| *op == key),
                    rule.comparison(key),
                ) {
                    (Some((op, operand)), Some(value)) => {
                        operators.push(op);
                        self.operand(value, &field_ptr, op, *operand);
                    }
                    _ => self.unsupported_among(
                        ptr,
                        key,
                        OPERATORS
                            .iter()
                            .map(|(op, _)| *op)
                            .chain(["Variable", "And", "Or", "Not", "Next", "Comment", "Assign"]),
                    ),
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
                if compound && rule.variable.is_present() {
                    self.schema(
                        ptr,
                        format!("The field 'Variable' is not supported with '{op}'"),
                    );
                } else if !compound && !rule.variable.is_present() {
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

    pub(crate) fn operand(&mut self, v: &Value, ptr: &str, op: &str, operand: Operand) {
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
}

//! Values inside fields: paths and reference paths, intrinsic calls, payload templates,
//! JSONata expressions and `Assign`, integer fields and mutually exclusive pairs.

use super::{
    child, closest, quoted, DiagnosticCode, Severity, Validator, MAX_STATE_NAME, MAX_VALUE_DEPTH,
};
use crate::intrinsics::{looks_like_call, Call};
use crate::model::definition::{Field, NullablePath};
use crate::model::QueryLanguage;
use crate::path::{Path, Root};
use serde_json::Value;

/// Fields of JSONata states that take one value, which may be a `{% %}` expression.
pub(crate) const JSONATA_SCALAR_FIELDS: [&str; 9] = [
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

/// The text of a `{% %}` expression, trimmed; `None` for anything else.
pub(crate) fn expression_text(text: &str) -> Option<&str> {
    let t = text.trim();
    Some(t.strip_prefix("{%")?.strip_suffix("%}")?.trim())
}

pub(crate) fn is_jsonata_expr(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        let t = s.trim();
        t.starts_with("{%") && t.ends_with("%}")
    })
}

/// The hint for an intrinsic call that does not parse: an unknown function is named as such.
fn call_hint(text: &str, why: &str) -> String {
    let name = text.split('(').next().unwrap_or(text).trim();
    if why.starts_with("unknown intrinsic function") {
        let mut hint = format!("'{name}' is not an intrinsic function");
        if let Some(near) = closest(name, crate::intrinsics::function_names()) {
            hint.push_str(&format!("; did you mean '{near}'?"));
        }
        hint
    } else {
        format!("'{text}' is not a valid intrinsic function call: {why}")
    }
}

pub(crate) fn int_value(v: &Value) -> Option<i64> {
    v.as_i64()
}

impl Validator {
    /// A field that must be a string: only `Wrong` is reported.
    /// (`at` is the object's pointer: the field's is built only to report.)
    pub(crate) fn string_field(&mut self, f: &Field<'_, &str>, at: &str, field: &str) {
        if let Field::Wrong(_) = f {
            self.schema(
                &child(at, field),
                format!("The value for the field '{field}' must be a STRING"),
            );
        }
    }

    pub(crate) fn expect_string(&mut self, v: &Value, ptr: &str, field: &str) -> bool {
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
    pub(crate) fn int_field(
        &mut self,
        v: Option<&Value>,
        field: &str,
        ptr: &str,
        min: i64,
        ql: QueryLanguage,
    ) {
        let Some(v) = v else { return };
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
            self.hint(format!("{} is not {what}", quoted(v)));
        }
    }

    /// `a` and `b`, both written (`present`), is an error.
    pub(crate) fn exclusive(&mut self, present: (bool, bool), ptr: &str, a: &str, b: &str) {
        if present.0 && present.1 {
            self.schema(
                ptr,
                format!("The fields '{a}' and '{b}' cannot both be present"),
            );
        }
    }

    /// A path field (`…Path`): a string that parses as a JSONPath.
    /// (`at` is the object's pointer: the field's is built only when the field is written.)
    pub(crate) fn path_field(&mut self, f: &Field<'_, &str>, at: &str, field: &str) {
        match f {
            Field::Absent => {}
            Field::Ok(text) => self.path_text(Some(text), &child(at, field), field),
            Field::Wrong(_) => self.path_text(None, &child(at, field), field),
        }
    }

    /// `InputPath` / `OutputPath` of the object at `at`: `null`, or a path.
    pub(crate) fn nullable_path(&mut self, f: &NullablePath<'_>, at: &str, field: &str) {
        match f {
            Field::Absent | Field::Ok(None) => {}
            Field::Ok(Some(text)) => self.path_text(Some(text), &child(at, field), field),
            Field::Wrong(_) => self.path_text(None, &child(at, field), field),
        }
    }

    /// A path's text (`None`: the value is not a string).
    pub(crate) fn path_text(&mut self, text: Option<&str>, ptr: &str, field: &str) {
        let error = match text.map(Path::parse) {
            Some(Ok(_)) => return,
            Some(Err(e)) => Some(e),
            None => None,
        };
        self.schema(
            ptr,
            format!("The value for the field '{field}' must be a valid JSONPath"),
        );
        self.hint(match error {
            Some(e) => format!("'{}' is not a valid JSONPath: {}", e.text, e.reason),
            None => "the value is not a string".into(),
        });
    }

    /// `ResultPath` of the object at `at`.
    pub(crate) fn result_path(&mut self, f: &NullablePath<'_>, at: &str) {
        let ok = match f {
            Field::Absent | Field::Ok(None) => return,
            Field::Ok(Some(text)) => {
                Path::parse(text).is_ok_and(|p| p.is_definite() && *p.root() == Root::Input)
            }
            Field::Wrong(_) => false,
        };
        if !ok {
            self.schema(
                &child(at, "ResultPath"),
                "The value for the field 'ResultPath' must be a valid ReferencePath".into(),
            );
        }
    }

    /// `ErrorPath` / `CausePath`: a path or an intrinsic call.
    pub(crate) fn path_or_call_field(&mut self, f: &Field<'_, &str>, at: &str, field: &str) {
        match f {
            Field::Absent => {}
            Field::Ok(text) => self.path_or_call_text(Some(text), &child(at, field), field),
            Field::Wrong(_) => self.path_or_call_text(None, &child(at, field), field),
        }
    }

    pub(crate) fn path_or_call(&mut self, v: &Value, ptr: &str, field: &str) {
        self.path_or_call_text(v.as_str(), ptr, field);
    }

    fn path_or_call_text(&mut self, text: Option<&str>, ptr: &str, field: &str) {
        let hint = match text {
            Some(s) if looks_like_call(s) => match Call::parse(s) {
                Ok(_) => return,
                Err(e) => call_hint(s, &e.message),
            },
            Some(s) => match Path::parse(s) {
                Ok(_) => return,
                Err(e) => format!("'{s}' is not a valid JSONPath: {}", e.reason),
            },
            None => "the value is not a string".into(),
        };
        self.schema(
            ptr,
            format!("The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function call"),
        );
        self.hint(hint);
    }

    /// A JSONPath payload template: every `.$` key holds a path or an intrinsic call.
    pub(crate) fn template(&mut self, v: &Value, ptr: &str, field: &str, depth: usize) {
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
    pub(crate) fn jsonata_value(&mut self, v: &Value, ptr: &str, depth: usize) {
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
    pub(crate) fn jsonata_parse(&mut self, v: &Value, ptr: &str) {
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

    pub(crate) fn assign(&mut self, v: &Value, ptr: &str, ql: QueryLanguage) {
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
}

//! Reading one compiled field from the model: paths, templates, JSONata trees and
//! expressions, counts and texts (literal, `…Path` or expression), transition targets and
//! error names, each failing with a `CompileError` at the field's pointer.

use super::{error, Count, Result, ResultPath, Selection, StateId, Text};
use crate::error::ErrorName;
use crate::interpret::template::Template;
use crate::intrinsics::{self, Call};
use crate::jsonata::{Expr, Tree};
use crate::model::definition::{Field, NullablePath};
use crate::path::Path;
use serde_json::Value;
use std::collections::HashMap;

/// Where an object's fields are (for messages) and what language its values are in.
pub(super) struct Ctx<'a> {
    pub at: &'a str,
    /// The state's QueryLanguage is JSONata: `{% %}` strings are expressions.
    pub jsonata: bool,
}

impl Ctx<'_> {
    pub(super) fn here(&self, key: &str) -> String {
        format!("{}/{}", self.at, key)
    }

    fn string<'v>(&self, key: &str, field: &'v Field<'_, &str>) -> Result<Option<&'v str>> {
        match field {
            Field::Absent => Ok(None),
            Field::Ok(s) => Ok(Some(s)),
            Field::Wrong(_) => Err(error(
                &self.here(key),
                format!("the field '{key}' must be a string"),
            )),
        }
    }

    pub(super) fn path(&self, key: &str, field: &Field<'_, &str>) -> Result<Option<Path>> {
        self.string(key, field)?
            .map(|text| Path::parse(text).map_err(|e| error(&self.here(key), e.to_string())))
            .transpose()
    }

    pub(super) fn template(&self, key: &str, value: Option<&Value>) -> Result<Option<Template>> {
        value
            .map(|v| {
                Template::compile(v)
                    .map_err(|e| error(&format!("{}/{}", self.here(key), e.field), e.message))
            })
            .transpose()
    }

    /// A JSONata template (`Output`, `Assign` …), named `key` in messages.
    pub(super) fn tree(&self, key: &str, value: Option<&Value>) -> Result<Option<Tree>> {
        value
            .map(|v| {
                Tree::compile(v, key)
                    .map_err(|(field, message)| error(&format!("{}/{}", self.at, field), message))
            })
            .transpose()
    }

    /// A `{% %}` expression at `key`, when the state is JSONata and the value is one.
    pub(super) fn expr(&self, key: &str, value: Option<&Value>) -> Result<Option<Box<Expr>>> {
        if !self.jsonata {
            return Ok(None);
        }
        match value {
            None => Ok(None),
            Some(v) => Expr::from_value(v)
                .map(|e| e.map(Box::new))
                .map_err(|message| error(&self.here(key), message)),
        }
    }

    /// A number at `key`, or read through `{key}Path`.
    pub(super) fn count(
        &self,
        key: &str,
        value: Option<&Value>,
        path: &Field<'_, &str>,
    ) -> Result<Option<Count>> {
        if let Some(expr) = self.expr(key, value)? {
            return Ok(Some(Count::Expr(expr)));
        }
        let path_key = format!("{key}Path");
        match (value, self.path(&path_key, path)?) {
            (Some(_), Some(_)) => Err(error(
                self.at,
                format!("'{key}' and '{path_key}' are mutually exclusive"),
            )),
            (Some(v), None) => Ok(Some(Count::Literal(v.clone()))),
            (None, Some(p)) => Ok(Some(Count::Path(p))),
            (None, None) => Ok(None),
        }
    }

    fn nullable_path(&self, key: &str, field: &NullablePath<'_>) -> Result<Option<Option<Path>>> {
        match field {
            Field::Absent => Ok(None),
            Field::Ok(None) => Ok(Some(None)),
            Field::Ok(Some(s)) if *s == "$" => Ok(None),
            Field::Ok(Some(text)) => Path::parse(text)
                .map(|p| Some(Some(p)))
                .map_err(|e| error(&self.here(key), e.to_string())),
            Field::Wrong(_) => Err(error(
                &self.here(key),
                format!("the field '{key}' must be a string"),
            )),
        }
    }

    pub(super) fn selection(&self, key: &str, field: &NullablePath<'_>) -> Result<Selection> {
        Ok(match self.nullable_path(key, field)? {
            None => Selection::Whole,
            Some(None) => Selection::Discard,
            Some(Some(path)) => Selection::Path(path),
        })
    }

    pub(super) fn result_path(&self, key: &str, field: &NullablePath<'_>) -> Result<ResultPath> {
        Ok(match self.nullable_path(key, field)? {
            None => ResultPath::Replace,
            Some(None) => ResultPath::Discard,
            Some(Some(path)) => {
                if !path.is_definite() {
                    return Err(error(
                        &self.here(key),
                        format!("ResultPath '{}' must be a reference path", path.as_str()),
                    ));
                }
                ResultPath::At(path)
            }
        })
    }

    /// A string at `key`, or read through `{key}Path` (a path or an intrinsic call).
    pub(super) fn text(
        &self,
        key: &str,
        value: Option<&Value>,
        path: &Field<'_, &str>,
    ) -> Result<Option<Text>> {
        if let Some(expr) = self.expr(key, value)? {
            return Ok(Some(Text::Expr(expr)));
        }
        match value {
            None => {}
            Some(Value::String(literal)) => return Ok(Some(Text::Literal(literal.clone()))),
            Some(_) => {
                return Err(error(
                    &self.here(key),
                    format!("the field '{key}' must be a string"),
                ))
            }
        }
        let path_key = format!("{key}Path");
        match self.string(&path_key, path)? {
            None => Ok(None),
            Some(text) if intrinsics::looks_like_call(text) => Call::parse(text)
                .map(|c| Some(Text::Call(c)))
                .map_err(|e| error(&self.here(&path_key), e.message)),
            Some(text) => Path::parse(text)
                .map(|p| Some(Text::Path(p)))
                .map_err(|e| error(&self.here(&path_key), e.to_string())),
        }
    }
}

pub(super) fn target(
    ids: &HashMap<&str, StateId>,
    name: &Field<'_, &str>,
    at: &str,
) -> Result<StateId> {
    let Field::Ok(name) = name else {
        return Err(error(at, "'Next' must be a string"));
    };
    ids.get(name)
        .copied()
        .ok_or_else(|| error(at, format!("Missing 'Next' target: {name}")))
}

pub(super) fn error_names(
    names: &Field<'_, Vec<Field<'_, &str>>>,
    at: &str,
) -> Result<Vec<ErrorName>> {
    let Field::Ok(names) = names else {
        return Err(error(at, "'ErrorEquals' is required and must be an array"));
    };
    names
        .iter()
        .map(|name| {
            name.ok()
                .map(|name| ErrorName::parse(name))
                .ok_or_else(|| error(at, "error names must be strings"))
        })
        .collect()
}

pub(super) fn number(
    value: &Field<'_, &serde_json::Number>,
    default: f64,
    at: &str,
    field: &str,
) -> Result<f64> {
    match value {
        Field::Absent => Ok(default),
        value => value.ok().and_then(|n| n.as_f64()).ok_or_else(|| {
            error(
                &format!("{at}/{field}"),
                format!("'{field}' must be a number"),
            )
        }),
    }
}

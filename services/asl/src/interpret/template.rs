//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector` and JSONPath `Assign`,
//! compiled once. Keys ending in `.$` hold a path or an intrinsic call; a subtree with none
//! is kept as one literal, so building it is a single clone.

use crate::intrinsics::{self, Call};
use crate::path::Path;
use serde_json::{Map, Value};

/// A compiled payload template.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    /// A subtree with no `.$` key anywhere below.
    Literal(Value),
    /// An object with at least one dynamic entry and no key written twice. `shape` is the
    /// object with its literal members in place and `null` where a dynamic one goes;
    /// `fills` are the dynamic members as (slot in `shape`, template), slots increasing.
    /// Building clones `shape` and writes the slots in place: serde_json's map hashes every
    /// key it inserts with SipHash, and that was a quarter of the order machine's Parameters.
    Object {
        shape: Map<String, Value>,
        fills: Vec<(usize, Template)>,
    },
    /// An object with a key written both plainly and with `.$` (`"a"` and `"a.$"`): built
    /// by inserting each entry in order, so the last one wins at the first one's place.
    Members(Vec<(String, Template)>),
    /// An array with at least one dynamic element.
    Array(Vec<Template>),
    /// `"key.$": "$.path"`: the field (with `.$`) is kept for error messages.
    Path { field: String, path: Path },
    /// `"key.$": "States.Format(...)"`.
    Call(Call),
}

/// Why a template does not compile: the field and the reason.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TemplateError {
    pub field: String,
    pub message: String,
}

impl Template {
    /// Compiles a payload template as written in the definition.
    pub(crate) fn compile(value: &Value) -> Result<Template, TemplateError> {
        match value {
            Value::Object(map) => {
                let mut entries = Vec::with_capacity(map.len());
                let mut dynamic = false;
                for (key, value) in map {
                    let entry = match key.strip_suffix(".$") {
                        Some(name) => {
                            dynamic = true;
                            (name.to_owned(), Template::dynamic(key, value)?)
                        }
                        None => {
                            let template = Template::compile(value)?;
                            dynamic |= !matches!(template, Template::Literal(_));
                            (key.clone(), template)
                        }
                    };
                    entries.push(entry);
                }
                Ok(if dynamic {
                    Template::object(entries)
                } else {
                    Template::Literal(value.clone())
                })
            }
            Value::Array(items) => {
                let items = items
                    .iter()
                    .map(Template::compile)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if items.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(items)
                })
            }
            other => Ok(Template::Literal(other.clone())),
        }
    }

    /// An object with a dynamic entry: its shape and fills, or its members in order when
    /// a key repeats.
    fn object(entries: Vec<(String, Template)>) -> Template {
        // Room for one more member: a ResultPath often adds one to the object that
        // Parameters built, and growing a full map rehashes it.
        let mut shape = Map::with_capacity(entries.len() + 1);
        let mut fills = Vec::new();
        for (key, template) in &entries {
            let placeholder = match template {
                Template::Literal(value) => value.clone(),
                dynamic => {
                    fills.push((shape.len(), dynamic.clone()));
                    Value::Null
                }
            };
            if shape.insert(key.clone(), placeholder).is_some() {
                return Template::Members(entries);
            }
        }
        Template::Object { shape, fills }
    }

    fn dynamic(field: &str, value: &Value) -> Result<Template, TemplateError> {
        let fail = |message: String| TemplateError {
            field: field.to_owned(),
            message,
        };
        let Value::String(text) = value else {
            return Err(fail(format!(
                "The value for the field '{field}' must be a STRING that contains a JSONPath or an intrinsic function"
            )));
        };
        if intrinsics::looks_like_call(text) {
            let call = Call::parse(text).map_err(|e| fail(e.message))?;
            Ok(Template::Call(call))
        } else {
            let path = Path::parse(text).map_err(|e| fail(e.to_string()))?;
            Ok(Template::Path {
                field: field.to_owned(),
                path,
            })
        }
    }
}

/// Builds a template's value; `leaf` evaluates one dynamic leaf. Generic rather than
/// `&mut dyn FnMut`, so the leaf's common case (a path from the input) is inlined here.
pub(crate) fn build<E, F>(template: &Template, leaf: &mut F) -> Result<Value, E>
where
    F: FnMut(&Template) -> Result<Value, E>,
{
    match template {
        Template::Literal(value) => Ok(value.clone()),
        Template::Object { shape, fills } => {
            let mut map = shape.clone();
            let mut slots = map.values_mut();
            let mut next = 0;
            for (slot, template) in fills {
                let value = build(template, leaf)?;
                *slots
                    .nth(slot - next)
                    .expect("a fill's slot is inside the shape") = value;
                next = slot + 1;
            }
            Ok(Value::Object(map))
        }
        Template::Members(entries) => {
            let mut map = Map::with_capacity(entries.len() + 1);
            for (key, template) in entries {
                map.insert(key.clone(), build(template, leaf)?);
            }
            Ok(Value::Object(map))
        }
        Template::Array(items) => items
            .iter()
            .map(|t| build(t, leaf))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        dynamic => leaf(dynamic),
    }
}

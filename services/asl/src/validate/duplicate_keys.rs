//! Keys written twice in one object of the definition text, which a parsed `Value` cannot
//! show (it keeps the last). serde_json's own parser walks the text; a `DeserializeSeed`
//! follows it with the JSON pointer of each value and the keys seen in each object, so no
//! JSON is scanned by hand here.

use super::child;
use crate::validate::{Diagnostic, DiagnosticCode, Severity};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Every key repeated inside one object of `text`, in document order. A key repeated directly
/// inside a `States` object is `DUPLICATE_STATE_NAME`, any other `SCHEMA_VALIDATION_FAILED`.
/// `text` is already known to be JSON (`serde_json` parsed it into a `Value`), so its
/// nesting is within serde_json's recursion limit.
pub(crate) fn duplicate_keys(text: &str) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let walk = Walk {
        pointer: String::new(),
        holds: Holds::Values,
        found: &mut found,
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // The text parsed once already, so this walk cannot fail.
    let _ = walk.deserialize(&mut deserializer);
    found
}

/// What an object's members are: states (directly inside `States`) or plain values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holds {
    States,
    Values,
}

/// One value of the text at `pointer`, recording the duplicates found beneath it.
struct Walk<'f> {
    pointer: String,
    holds: Holds,
    found: &'f mut Vec<Diagnostic>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = members.next_key::<String>()? {
            let pointer = child(&self.pointer, &key);
            if !seen.insert(key.clone()) {
                let (code, message) = match self.holds {
                    Holds::States => (
                        DiagnosticCode::DuplicateStateName,
                        format!("Duplicate State name: {key}"),
                    ),
                    Holds::Values => (
                        DiagnosticCode::SchemaValidationFailed,
                        format!("Duplicate field: {key}"),
                    ),
                };
                self.found.push(Diagnostic {
                    severity: Severity::Error,
                    code,
                    message,
                    location: pointer.clone(),
                    hint: None,
                });
            }
            members.next_value_seed(Walk {
                pointer,
                holds: if key == "States" {
                    Holds::States
                } else {
                    Holds::Values
                },
                found: self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        while items
            .next_element_seed(Walk {
                pointer: child(&self.pointer, &index.to_string()),
                holds: Holds::Values,
                found: self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    // Scalars hold no keys.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

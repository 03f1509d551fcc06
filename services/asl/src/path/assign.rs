//! Writing through a reference path (`ResultPath`): checked first, so a failed write
//! leaves the target untouched; creates objects on the way.

use super::{field, field_mut, resolve_index, Missing, Path, Step};
use serde_json::{Map, Value};

impl Path {
    /// Writes `value` at this reference path inside `target`, creating objects as needed.
    pub fn assign(&self, target: &mut Value, value: Value) -> Result<(), Missing> {
        if !self.is_reference() {
            return Err(Missing {
                at: self.render_jayway(),
                missing_property: false,
            });
        }
        let steps = &self.body.steps;
        let Some((last, init)) = steps.split_last() else {
            *target = value;
            return Ok(());
        };
        // Check first, so a failed assign leaves `target` untouched (no half-built objects).
        // A one-step path creates nothing before its step, which fails as the check would.
        if !init.is_empty() {
            self.check_assign(target)?;
        }
        let mut current = target;
        for (i, step) in init.iter().enumerate() {
            current = match (step, current) {
                (Step::Field(name), Value::Object(map)) => {
                    if field(map, name).is_none() {
                        map.insert(name.clone(), Value::Object(Map::new()));
                    }
                    field_mut(map, name).ok_or_else(|| self.assign_failure(i))?
                }
                (Step::Index(index), Value::Array(items)) => {
                    let at =
                        resolve_index(items.len(), *index).ok_or_else(|| self.assign_failure(i))?;
                    &mut items[at]
                }
                _ => return Err(self.assign_failure(i)),
            };
        }
        match (last, current) {
            (Step::Field(name), Value::Object(map)) => {
                if let Some(slot) = field_mut(map, name) {
                    *slot = value;
                } else {
                    map.insert(name.clone(), value);
                }
            }
            (Step::Index(index), Value::Array(items)) => {
                let at = resolve_index(items.len(), *index)
                    .ok_or_else(|| self.assign_failure(steps.len() - 1))?;
                items[at] = value;
            }
            _ => return Err(self.assign_failure(steps.len() - 1)),
        }
        Ok(())
    }

    /// The read-only half of `assign`: would every step succeed? A missing key is fine
    /// (an object will be created) unless an index step must then look inside it.
    pub(super) fn check_assign(&self, target: &Value) -> Result<(), Missing> {
        let mut current = Some(target);
        for (i, step) in self.body.steps.iter().enumerate() {
            current = match (step, current) {
                (Step::Field(name), Some(Value::Object(map))) => field(map, name),
                (Step::Field(_), None) => None,
                (Step::Index(index), Some(Value::Array(items))) => Some(
                    items
                        .get(
                            resolve_index(items.len(), *index)
                                .ok_or_else(|| self.assign_failure(i))?,
                        )
                        .ok_or_else(|| self.assign_failure(i))?,
                ),
                _ => return Err(self.assign_failure(i)),
            };
        }
        Ok(())
    }

    /// Step `i` cannot be written: the last step is "No results" for the whole path, an
    /// earlier one "Missing property" up to it, as a read would report.
    pub(super) fn assign_failure(&self, i: usize) -> Missing {
        if i + 1 == self.body.steps.len() {
            Missing {
                at: self.render_jayway(),
                missing_property: false,
            }
        } else {
            Missing {
                at: self.render(i + 1, false),
                missing_property: true,
            }
        }
    }
}

//! What a path that selected nothing says: `Missing`, rendered in Jayway's normal form
//! (`$['a'][0]`) with Jayway's wording, as AWS error messages quote it.

use super::{field, resolve_index, Path, Root, Step};
use serde_json::Value;
use std::fmt;

/// Why a path selected nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Missing {
    /// The Jayway rendering of the path up to the failing step, e.g. `$['no']`.
    pub at: String,
    /// `true` for "Missing property in path", `false` for "No results for path".
    pub missing_property: bool,
}

impl Missing {
    /// The text Jayway (and so AWS) puts in its error message.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing_property {
            write!(f, "Missing property in path {}", self.at)
        } else {
            write!(f, "No results for path: {}", self.at)
        }
    }
}

impl Path {
    /// Renders the root and the first `count` steps; `with_func` adds the trailing function.
    pub(super) fn render(&self, count: usize, with_func: bool) -> String {
        let mut out = match &self.root {
            Root::Input => String::from("$"),
            Root::Context => String::from("$$"),
            Root::Variable(name) => format!("${name}"),
        };
        for step in &self.body.steps[..count] {
            render_step(step, &mut out);
        }
        if with_func {
            if let Some(func) = self.body.func {
                out.push('.');
                out.push_str(func.name());
                out.push_str("()");
            }
        }
        out
    }

    /// Works out, Jayway-style, why a definite path found nothing. Only runs on failure,
    /// so the hit path never allocates.
    pub(super) fn diagnose(&self, root: &Value) -> Missing {
        let steps = &self.body.steps;
        let whole = || Missing {
            at: self.render_jayway(),
            missing_property: false,
        };
        let mut current = root;
        for (i, step) in steps.iter().enumerate() {
            // Jayway's "leaf": no further token, a trailing function included.
            let leaf = i + 1 == steps.len() && self.body.func.is_none();
            current = match step {
                Step::Field(name) => match current.as_object().and_then(|m| field(m, name)) {
                    Some(next) => next,
                    None if leaf => return whole(),
                    None => {
                        return Missing {
                            at: self.render(i + 1, false),
                            missing_property: true,
                        }
                    }
                },
                Step::Index(index) => match current
                    .as_array()
                    .and_then(|a| a.get(resolve_index(a.len(), *index)?))
                {
                    Some(next) => next,
                    None => return whole(),
                },
                _ => return whole(),
            };
        }
        whole()
    }
}

pub(super) fn render_step(step: &Step, out: &mut String) {
    use std::fmt::Write;
    match step {
        Step::Field(name) => {
            let _ = write!(out, "['{name}']");
        }
        Step::Fields(names) => {
            out.push('[');
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "'{name}'");
            }
            out.push(']');
        }
        Step::Index(index) => {
            let _ = write!(out, "[{index}]");
        }
        Step::Indexes(indexes) => {
            out.push('[');
            for (i, index) in indexes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{index}");
            }
            out.push(']');
        }
        Step::Wildcard => out.push_str("[*]"),
        Step::Slice(from, to) => {
            out.push('[');
            if let Some(from) = from {
                let _ = write!(out, "{from}");
            }
            out.push(':');
            if let Some(to) = to {
                let _ = write!(out, "{to}");
            }
            out.push(']');
        }
        Step::Filter(_) => out.push_str("[?]"),
        Step::Scan(inner) => {
            out.push_str("..");
            render_step(inner, out);
        }
    }
}

//! A (sub-)machine as a graph: `StartAt`, the states' names (unique machine-wide), their
//! transitions, a terminal state, and every state reachable from the start.

use super::fields::*;
use crate::model::*;
use crate::validate::*;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};

impl Validator {
    /// A (sub-)machine: StartAt, States, its fields, its states, reachability.
    pub(crate) fn machine(&mut self, def: &Value, ptr: &str, depth: usize, scope: Scope) {
        if depth > MAX_DEPTH {
            self.schema(
                ptr,
                format!("State machine nesting exceeds the maximum depth of {MAX_DEPTH}"),
            );
            return;
        }
        let Some(obj) = def.as_object() else {
            self.schema(ptr, "Value must be an object".into());
            return;
        };
        let missing: Vec<&str> = ["States", "StartAt"]
            .into_iter()
            .filter(|f| !obj.contains_key(*f))
            .collect();
        self.required(ptr, &missing);

        let allowed = match scope {
            Scope::Top => TOP_FIELDS,
            Scope::Branch => BRANCH_FIELDS,
            Scope::Processor => PROCESSOR_FIELDS,
        };
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.unsupported(ptr, key);
            }
        }
        if scope == Scope::Top {
            if let Some(ql) = obj.get("QueryLanguage") {
                match QueryLanguage::parse(ql) {
                    Some(language) => self.top_ql = language,
                    None => self.schema(
                        &child(ptr, "QueryLanguage"),
                        "The value for the field 'QueryLanguage' must be one of: [JSONPath, JSONata]".into(),
                    ),
                }
            }
            if let Some(v) = obj.get("Version") {
                if !v.is_string() {
                    self.schema(
                        &child(ptr, "Version"),
                        "The value for the field 'Version' must be a STRING".into(),
                    );
                }
            }
            if let Some(v) = obj.get("TimeoutSeconds") {
                if !int_value(v).is_some_and(|n| (1..=99_999_999).contains(&n)) {
                    self.schema(
                        &child(ptr, "TimeoutSeconds"),
                        "The value for the field 'TimeoutSeconds' must be a positive integer"
                            .into(),
                    );
                }
            }
        }
        if let Some(c) = obj.get("Comment") {
            if !c.is_string() {
                self.schema(
                    &child(ptr, "Comment"),
                    "The value for the field 'Comment' must be a STRING".into(),
                );
            }
        }
        if scope == Scope::Processor {
            if let Some(pc) = obj.get("ProcessorConfig") {
                self.processor_config(pc, &child(ptr, "ProcessorConfig"));
            }
        }

        let states_ptr = child(ptr, "States");
        let states = match obj.get("States") {
            None => None,
            Some(Value::Object(states)) if states.is_empty() => {
                self.schema(&states_ptr, "Value cannot be empty".into());
                None
            }
            Some(Value::Object(states)) => Some(states),
            Some(_) => {
                self.schema(
                    &states_ptr,
                    "The value for the field 'States' must be an OBJECT".into(),
                );
                None
            }
        };
        let start = match obj.get("StartAt") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.schema(
                    &child(ptr, "StartAt"),
                    "The value for the field 'StartAt' must be a STRING".into(),
                );
                None
            }
        };
        let Some(states) = states else { return };
        if let Some(start) = start {
            if !states.contains_key(start) {
                self.error(
                    DiagnosticCode::MissingTransitionTarget,
                    &child(ptr, "StartAt"),
                    format!("Missing 'StartAt' target: {start}"),
                );
            }
        }

        let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut terminal = false;
        for (name, state) in states {
            let state_ptr = child(&states_ptr, name);
            self.state_name(name, &state_ptr);
            let info = self.state(state, &state_ptr, states, depth);
            terminal |= info.terminal;
            edges.insert(name.as_str(), info.targets);
        }
        if !terminal {
            self.error(
                DiagnosticCode::MissingEndState,
                ptr,
                "Workflow has no terminal state".into(),
            );
        }
        if let Some(start) = start.filter(|s| states.contains_key(*s)) {
            let mut reached: HashSet<&str> = HashSet::from([start]);
            let mut queue = VecDeque::from([start]);
            while let Some(at) = queue.pop_front() {
                for &next in edges.get(at).map(Vec::as_slice).unwrap_or_default() {
                    if states.contains_key(next) && reached.insert(next) {
                        queue.push_back(next);
                    }
                }
            }
            for name in states.keys() {
                if !reached.contains(name.as_str()) {
                    self.error(
                        DiagnosticCode::MissingTransitionTarget,
                        &child(&states_ptr, name),
                        format!("State \"{name}\" is not reachable."),
                    );
                }
            }
        }
    }

    pub(crate) fn state_name(&mut self, name: &str, ptr: &str) {
        if name.is_empty()
            || name.chars().count() > MAX_STATE_NAME
            || name.chars().any(char::is_control)
        {
            self.error(
                DiagnosticCode::InvalidStateName,
                ptr,
                format!("State name '{name}' must be 1 to {MAX_STATE_NAME} characters without control characters"),
            );
        }
        if !self.names.insert(name.to_owned()) {
            self.error(
                DiagnosticCode::DuplicateStateName,
                ptr,
                format!("Duplicate State name: {name}"),
            );
        }
    }

    pub(crate) fn target<'a>(
        &mut self,
        v: &'a Value,
        ptr: &str,
        field: &str,
        scope: &Map<String, Value>,
        out: &mut Vec<&'a str>,
    ) {
        match v.as_str() {
            None => self.schema(
                ptr,
                format!("The value for the field '{field}' must be a STRING"),
            ),
            Some(name) => {
                if !scope.contains_key(name) {
                    self.error(
                        DiagnosticCode::MissingTransitionTarget,
                        ptr,
                        format!("Missing '{field}' target: {name}"),
                    );
                }
                out.push(name);
            }
        }
    }
}

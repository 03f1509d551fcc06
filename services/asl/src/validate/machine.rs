//! A (sub-)machine as a graph: `StartAt`, the states' names (unique machine-wide), their
//! transitions, a terminal state, and every state reachable from the start.

use super::{child, DiagnosticCode, Validator, MAX_DEPTH, MAX_STATE_NAME};
use crate::model::definition::{Field, StateMachine, SubMachine};
use crate::model::{Scope, BRANCH_FIELDS, PROCESSOR_FIELDS, TOP_FIELDS};
use std::collections::{HashMap, HashSet, VecDeque};

/// The state names of one (sub-)machine: where its transitions may go.
pub(crate) type Names<'a> = HashSet<&'a str>;

impl Validator {
    /// A Parallel branch or Map processor, `depth` levels down.
    pub(crate) fn sub_machine(
        &mut self,
        sub: &SubMachine<'_>,
        ptr: &str,
        depth: usize,
        scope: Scope,
    ) {
        if depth > MAX_DEPTH {
            self.schema(
                ptr,
                format!("State machine nesting exceeds the maximum depth of {MAX_DEPTH}"),
            );
            return;
        }
        match sub {
            Field::Ok(machine) => self.machine(machine, ptr, depth, scope),
            _ => self.schema(ptr, "Value must be an object".into()),
        }
    }

    /// A (sub-)machine: StartAt, States, its fields, its states, reachability.
    pub(crate) fn machine(
        &mut self,
        def: &StateMachine<'_>,
        ptr: &str,
        depth: usize,
        scope: Scope,
    ) {
        let missing: Vec<&str> = [
            ("States", def.states.is_present()),
            ("StartAt", def.start_at.is_present()),
        ]
        .into_iter()
        .filter(|(_, present)| !present)
        .map(|(f, _)| f)
        .collect();
        self.required(ptr, &missing);

        let allowed = match scope {
            Scope::Top => TOP_FIELDS,
            Scope::Branch => BRANCH_FIELDS,
            Scope::Processor => PROCESSOR_FIELDS,
        };
        for &key in &def.keys {
            if !allowed.contains(&key) {
                self.unsupported(ptr, key);
            }
        }
        if scope == Scope::Top {
            match def.query_language {
                Field::Absent => {}
                Field::Ok(language) => self.top_ql = language,
                Field::Wrong(_) => self.schema(
                    &child(ptr, "QueryLanguage"),
                    "The value for the field 'QueryLanguage' must be one of: [JSONPath, JSONata]"
                        .into(),
                ),
            }
            self.string_field(&def.version, ptr, "Version");
            let timeout_ok = match &def.timeout_seconds {
                Field::Absent => true,
                Field::Ok(n) => n.as_i64().is_some_and(|n| (1..=99_999_999).contains(&n)),
                Field::Wrong(_) => false,
            };
            if !timeout_ok {
                self.schema(
                    &child(ptr, "TimeoutSeconds"),
                    "The value for the field 'TimeoutSeconds' must be a positive integer".into(),
                );
            }
        }
        self.string_field(&def.comment, ptr, "Comment");
        if scope == Scope::Processor {
            self.processor_config(&def.processor_config, &child(ptr, "ProcessorConfig"));
        }

        let states_ptr = child(ptr, "States");
        let states = match &def.states {
            Field::Absent => None,
            Field::Ok(states) if states.is_empty() => {
                self.schema(&states_ptr, "Value cannot be empty".into());
                None
            }
            Field::Ok(states) => Some(states),
            Field::Wrong(_) => {
                self.schema(
                    &states_ptr,
                    "The value for the field 'States' must be an OBJECT".into(),
                );
                None
            }
        };
        let start = match &def.start_at {
            Field::Absent => None,
            Field::Ok(s) => Some(*s),
            Field::Wrong(_) => {
                self.schema(
                    &child(ptr, "StartAt"),
                    "The value for the field 'StartAt' must be a STRING".into(),
                );
                None
            }
        };
        let Some(states) = states else { return };
        let names: Names = states.iter().map(|s| s.name).collect();
        if let Some(start) = start {
            if !names.contains(start) {
                self.error(
                    DiagnosticCode::MissingTransitionTarget,
                    &child(ptr, "StartAt"),
                    format!("Missing 'StartAt' target: {start}"),
                );
                self.hint(target_hint(start, &names));
            }
        }

        let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut terminal = false;
        for named in states {
            let state_ptr = child(&states_ptr, named.name);
            self.state_name(named.name, &state_ptr);
            let info = self.state(&named.state, &state_ptr, &names, depth);
            terminal |= info.terminal;
            edges.insert(named.name, info.targets);
        }
        if !terminal {
            self.error(
                DiagnosticCode::MissingEndState,
                ptr,
                "Workflow has no terminal state".into(),
            );
        }
        if let Some(start) = start.filter(|s| names.contains(s)) {
            let mut reached: HashSet<&str> = HashSet::from([start]);
            let mut queue = VecDeque::from([start]);
            while let Some(at) = queue.pop_front() {
                for &next in edges.get(at).map(Vec::as_slice).unwrap_or_default() {
                    if names.contains(next) && reached.insert(next) {
                        queue.push_back(next);
                    }
                }
            }
            for named in states {
                if !reached.contains(named.name) {
                    self.error(
                        DiagnosticCode::MissingTransitionTarget,
                        &child(&states_ptr, named.name),
                        format!("State \"{}\" is not reachable.", named.name),
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

    /// A transition (`Next`, `Default`): a string naming a state of `scope`.
    ///
    /// Like the other field checks, it takes the pointer of the object (`at`) and builds the
    /// field's only to report: building them for absent fields was half of validation's cost.
    pub(crate) fn target<'a>(
        &mut self,
        v: &'a Field<'_, &str>,
        at: &str,
        field: &str,
        scope: &Names,
        out: &mut Vec<&'a str>,
    ) {
        match v {
            Field::Absent => {}
            Field::Wrong(_) => self.schema(
                &child(at, field),
                format!("The value for the field '{field}' must be a STRING"),
            ),
            Field::Ok(name) => {
                if !scope.contains(name) {
                    self.error(
                        DiagnosticCode::MissingTransitionTarget,
                        &child(at, field),
                        format!("Missing '{field}' target: {name}"),
                    );
                    self.hint(target_hint(name, scope));
                }
                out.push(name);
            }
        }
    }
}

/// The hint for a transition to no state: the nearest name in its scope, or the names there.
/// (A state of an enclosing or a sibling scope cannot be the target either.)
fn target_hint(name: &str, scope: &Names) -> String {
    if let Some(near) = super::closest(name, scope.iter().copied()) {
        return format!("no state here is named '{name}'; did you mean '{near}'?");
    }
    let mut names: Vec<&str> = scope.iter().copied().collect();
    names.sort_unstable();
    const SHOWN: usize = 10;
    let more = names.len().saturating_sub(SHOWN);
    names.truncate(SHOWN);
    let mut listed = names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        listed.push_str(&format!(" and {more} more"));
    }
    format!("no state here is named '{name}'; the states here are {listed}")
}

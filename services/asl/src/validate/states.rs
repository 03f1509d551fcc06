//! One state: its type and fields in its query language, its transitions, and the checks
//! particular to each type (Task resources, Wait durations, Map processors, Retry and Catch).

use super::fields::{int_value, is_jsonata_expr, JSONATA_SCALAR_FIELDS};
use super::machine::Names;
use super::{
    child, closest, is_rfc3339, quoted, DiagnosticCode, MachineType, Severity, StateInfo, Validator,
};
use crate::model::definition::{
    Catcher, Fail, Field, Kind, MapState, Parallel, Pass, ProcessorConfig, Retrier, State, Task,
    Wait,
};
use crate::model::{type_fields, Lang, QueryLanguage, Scope, StateType, COMMON_FIELDS};
use serde_json::Value;

impl Validator {
    /// One state. Returns its transitions and whether it ends its scope.
    pub(crate) fn state<'a>(
        &mut self,
        state: &'a Field<'a, State<'a>>,
        ptr: &str,
        scope: &Names,
        depth: usize,
    ) -> StateInfo<'a> {
        let mut info = StateInfo {
            targets: Vec::new(),
            terminal: false,
        };
        let Field::Ok(state) = state else {
            self.schema(ptr, "The value for a state must be an OBJECT".into());
            return info;
        };
        let ql = match state.query_language {
            Field::Absent => self.top_ql,
            Field::Ok(QueryLanguage::Jsonata) => QueryLanguage::Jsonata,
            Field::Ok(QueryLanguage::JsonPath) => {
                if self.top_ql == QueryLanguage::Jsonata {
                    self.schema(
                        ptr,
                        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine".into(),
                    );
                }
                QueryLanguage::JsonPath
            }
            Field::Wrong(_) => {
                self.schema(
                    &child(ptr, "QueryLanguage"),
                    "The value for the field 'QueryLanguage' must be one of: [JSONPath, JSONata]"
                        .into(),
                );
                self.top_ql
            }
        };
        let kind = match &state.kind {
            Field::Absent => {
                self.required(ptr, &["Type"]);
                return info;
            }
            Field::Ok(kind) => kind,
            Field::Wrong(value) => {
                self.schema(
                    &child(ptr, "Type"),
                    format!(
                        "The value for the field 'Type' must be one of: [{}]",
                        StateType::ALL.map(StateType::as_str).join(", ")
                    ),
                );
                let mut hint = format!("{} is not a state type", quoted(value));
                if let Some(near) = value
                    .as_str()
                    .and_then(|t| closest(t, StateType::ALL.map(StateType::as_str)))
                {
                    hint.push_str(&format!("; did you mean '{near}'?"));
                }
                self.hint(hint);
                return info;
            }
        };
        let state_type = kind.state_type();

        // Fields: known for this type, in the state's language.
        let fields = type_fields(state_type);
        for &key in &state.keys {
            let lang = COMMON_FIELDS
                .iter()
                .chain(fields)
                .find(|(f, _)| *f == key)
                .map(|(_, l)| *l);
            match (lang, ql) {
                (None, _) => self.unsupported_among(
                    ptr,
                    key,
                    COMMON_FIELDS.iter().chain(fields).map(|(f, _)| *f),
                ),
                (Some(Lang::JsonPath), QueryLanguage::Jsonata) => self.schema(
                    ptr,
                    format!("The field '{key}' is not supported when 'QueryLanguage' is 'JSONata'"),
                ),
                (Some(Lang::Jsonata), QueryLanguage::JsonPath) => self.schema(
                    ptr,
                    format!(
                        "The field '{key}' is not supported when 'QueryLanguage' is 'JSONPath'"
                    ),
                ),
                _ => {}
            }
        }
        self.string_field(&state.comment, ptr, "Comment");

        // Transitions.
        match state_type {
            StateType::Succeed | StateType::Fail => info.terminal = true,
            StateType::Choice => {}
            _ => {
                match state.end {
                    Field::Absent | Field::Ok(false) => {}
                    Field::Ok(true) => info.terminal = true,
                    Field::Wrong(_) => self.schema(
                        &child(ptr, "End"),
                        "The value for the field 'End' must be a BOOLEAN".into(),
                    ),
                }
                match (state.next.is_present(), info.terminal) {
                    (true, true) => {
                        self.schema(ptr, "Only one of 'Next' or 'End' can be present".into())
                    }
                    (false, false) => {
                        self.schema(ptr, "Exactly one of 'Next' or 'End' is required".into())
                    }
                    _ => {}
                }
                self.target(&state.next, ptr, "Next", scope, &mut info.targets);
            }
        }

        // Paths and templates shared by several types (only in the language they belong to).
        if ql == QueryLanguage::JsonPath {
            self.nullable_path(&state.input_path, ptr, "InputPath");
            self.nullable_path(&state.output_path, ptr, "OutputPath");
            self.result_path(&state.result_path, ptr);
            let templates = [
                ("Parameters", state.parameters),
                ("ResultSelector", state.result_selector),
                ("ItemSelector", state.value("ItemSelector")),
            ];
            for (field, v) in templates {
                if let Some(v) = v {
                    self.template(v, &child(ptr, field), field, 0);
                }
            }
        } else {
            let values = [
                ("Arguments", state.arguments),
                ("Output", state.output),
                ("ItemSelector", state.value("ItemSelector")),
                ("Items", state.value("Items")),
            ];
            for (field, v) in values {
                if let Some(v) = v {
                    self.jsonata_value(v, &child(ptr, field), 0);
                }
            }
            for field in JSONATA_SCALAR_FIELDS {
                if let Some(v) = state.value(field) {
                    self.jsonata_parse(v, &child(ptr, field));
                }
            }
        }
        if let Some(assign) = &state.assign {
            self.assign(assign, &child(ptr, "Assign"), ql);
        }
        if ql == QueryLanguage::JsonPath {
            self.path_fields(kind, ptr);
        }

        match kind {
            Kind::Pass(pass) => self.pass(pass, ptr),
            Kind::Task(task) => self.task(task, ptr, ql),
            Kind::Choice(choice) => self.choice(choice, ptr, ql, scope, &mut info.targets),
            Kind::Wait(wait) => self.wait(wait, ptr, ql),
            Kind::Fail(fail) => self.fail(fail, ptr),
            Kind::Parallel(parallel) => self.parallel(parallel, ptr, depth),
            Kind::Map(map) => self.map(map, state, ptr, ql, depth),
            Kind::Succeed => {}
        }
        if state_type.handles_errors() {
            self.retry(&state.retry, &child(ptr, "Retry"));
            self.catch(
                &state.catch,
                &child(ptr, "Catch"),
                ql,
                scope,
                &mut info.targets,
            );
        }
        info
    }

    /// A JSONPath state's `…Path` fields beyond Input/Output/ResultPath, in the order of the
    /// type's field table.
    fn path_fields(&mut self, kind: &Kind, ptr: &str) {
        let paths = match kind {
            Kind::Task(t) => vec![
                ("TimeoutSecondsPath", &t.timeout_seconds_path),
                ("HeartbeatSecondsPath", &t.heartbeat_seconds_path),
            ],
            Kind::Wait(w) => vec![
                ("SecondsPath", &w.seconds_path),
                ("TimestampPath", &w.timestamp_path),
            ],
            Kind::Fail(f) => {
                self.path_or_call_field(&f.error_path, ptr, "ErrorPath");
                self.path_or_call_field(&f.cause_path, ptr, "CausePath");
                return;
            }
            Kind::Map(m) => {
                // `ItemsPath` here is a path: `null` is not one.
                if m.items_path.is_present() {
                    let text = m.items_path.ok().and_then(Option::as_deref);
                    self.path_text(text, &child(ptr, "ItemsPath"), "ItemsPath");
                }
                vec![
                    ("MaxConcurrencyPath", &m.max_concurrency_path),
                    ("ToleratedFailureCountPath", &m.tolerated_failure_count_path),
                    (
                        "ToleratedFailurePercentagePath",
                        &m.tolerated_failure_percentage_path,
                    ),
                ]
            }
            _ => Vec::new(),
        };
        for (field, path) in paths {
            self.path_field(path, ptr, field);
        }
    }

    pub(crate) fn pass(&mut self, pass: &Pass, ptr: &str) {
        if let Some(Value::Object(result)) = &pass.result {
            if result.keys().any(|k| k.ends_with(".$")) {
                self.push(
                    Severity::Warning,
                    DiagnosticCode::PassResultIsStatic,
                    &child(ptr, "Result"),
                    "The 'Result' of a Pass state is static: its '.$' fields are not evaluated"
                        .into(),
                );
            }
        }
    }

    pub(crate) fn task(&mut self, task: &Task, ptr: &str, ql: QueryLanguage) {
        let resource_ptr = child(ptr, "Resource");
        match &task.resource {
            Field::Absent => self.required(ptr, &["Resource"]),
            Field::Ok(resource) => self.resource(resource, &resource_ptr),
            Field::Wrong(_) => self.schema(
                &resource_ptr,
                "The value for the field 'Resource' must be a STRING".into(),
            ),
        }
        let timeout = task.timeout_seconds;
        let heartbeat = task.heartbeat_seconds;
        self.int_field(timeout, "TimeoutSeconds", ptr, 1, ql);
        self.int_field(heartbeat, "HeartbeatSeconds", ptr, 1, ql);
        self.exclusive(
            (timeout.is_some(), task.timeout_seconds_path.is_present()),
            ptr,
            "TimeoutSeconds",
            "TimeoutSecondsPath",
        );
        self.exclusive(
            (
                heartbeat.is_some(),
                task.heartbeat_seconds_path.is_present(),
            ),
            ptr,
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
        );
        if let (Some(t), Some(h)) = (
            timeout.and_then(Value::as_i64),
            heartbeat.and_then(Value::as_i64),
        ) {
            if h >= t {
                self.schema(
                    &child(ptr, "HeartbeatSeconds"),
                    "The value for the field 'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'".into(),
                );
            }
        }
        if let Some(creds) = &task.credentials {
            let credentials_ptr = child(ptr, "Credentials");
            match creds.as_object() {
                None => self.schema(
                    &credentials_ptr,
                    "The value for the field 'Credentials' must be an OBJECT".into(),
                ),
                Some(c) => {
                    let has_role = c.contains_key("RoleArn")
                        || (ql == QueryLanguage::JsonPath && c.contains_key("RoleArn.$"));
                    if !has_role {
                        self.schema(
                            &credentials_ptr,
                            "The field 'RoleArn' is required but was missing".into(),
                        );
                    }
                    for (key, value) in c {
                        match key.as_str() {
                            "RoleArn" => {
                                self.expect_string(value, &child(&credentials_ptr, key), key);
                            }
                            "RoleArn.$" if ql == QueryLanguage::JsonPath => {
                                self.path_or_call(value, &credentials_ptr, key)
                            }
                            _ => self.unsupported(&credentials_ptr, key),
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn resource(&mut self, resource: &str, ptr: &str) {
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" || parts[2].is_empty() {
            self.error(
                DiagnosticCode::InvalidResource,
                ptr,
                format!("Invalid resource: {resource}"),
            );
            return;
        }
        if self.machine_type == MachineType::Express {
            if parts[2] == "states" && parts[5].starts_with("activity:") {
                self.schema(
                    ptr,
                    "Express state machine does not support Activity ARN".into(),
                );
            } else if resource.ends_with(".sync") || resource.contains(".sync:") {
                self.schema(
                    ptr,
                    "Express state machine does not support '.sync' service integration".into(),
                );
            } else if resource.ends_with(".waitForTaskToken") {
                // AWS's message ends with a space.
                self.schema(ptr, "Express state machine does not support '.waitForTaskToken' service integration ".into());
            }
        }
    }

    pub(crate) fn wait(&mut self, wait: &Wait, ptr: &str, ql: QueryLanguage) {
        let durations = [
            ("Seconds", wait.seconds.is_some()),
            ("Timestamp", wait.timestamp.is_some()),
            ("SecondsPath", wait.seconds_path.is_present()),
            ("TimestampPath", wait.timestamp_path.is_present()),
        ];
        let present: Vec<&str> = durations
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|(f, _)| f)
            .collect();
        match present.len() {
            0 => self.schema(ptr, "Exactly one of the fields [Seconds, Timestamp, SecondsPath, TimestampPath] is required".into()),
            1 => {}
            _ => self.schema(ptr, format!("Only one of the fields [{}] can be present", present.join(", "))),
        }
        if let Some(seconds) = &wait.seconds {
            let ok = (ql == QueryLanguage::Jsonata && is_jsonata_expr(seconds))
                || int_value(seconds).is_some_and(|n| (0..=99_999_999).contains(&n));
            if !ok {
                self.schema(
                    &child(ptr, "Seconds"),
                    "The value for the field 'Seconds' must be a non-negative integer".into(),
                );
                self.hint(format!(
                    "{} is not an integer from 0 to 99999999",
                    quoted(seconds)
                ));
            }
        }
        if let Some(ts) = &wait.timestamp {
            let ok = (ql == QueryLanguage::Jsonata && is_jsonata_expr(ts))
                || ts.as_str().is_some_and(is_rfc3339);
            if !ok {
                self.schema(
                    &child(ptr, "Timestamp"),
                    "String does not match RFC3339 timestamp".into(),
                );
            }
        }
    }

    pub(crate) fn fail(&mut self, fail: &Fail, ptr: &str) {
        for (field, v) in [("Error", &fail.error), ("Cause", &fail.cause)] {
            if let Some(v) = v {
                self.expect_string(v, &child(ptr, field), field);
            }
        }
        self.exclusive(
            (fail.error.is_some(), fail.error_path.is_present()),
            ptr,
            "Error",
            "ErrorPath",
        );
        self.exclusive(
            (fail.cause.is_some(), fail.cause_path.is_present()),
            ptr,
            "Cause",
            "CausePath",
        );
    }

    pub(crate) fn parallel(&mut self, parallel: &Parallel, ptr: &str, depth: usize) {
        let branches_ptr = child(ptr, "Branches");
        match &parallel.branches {
            Field::Absent => self.required(ptr, &["Branches"]),
            Field::Ok(branches) if branches.is_empty() => {
                self.schema(&branches_ptr, "Value cannot be empty".into())
            }
            Field::Ok(branches) => {
                for (i, branch) in branches.iter().enumerate() {
                    self.sub_machine(
                        branch,
                        &child(&branches_ptr, &i.to_string()),
                        depth + 1,
                        Scope::Branch,
                    );
                }
            }
            Field::Wrong(_) => self.schema(
                &branches_ptr,
                "The value for the field 'Branches' must be an ARRAY".into(),
            ),
        }
    }

    pub(crate) fn map(
        &mut self,
        map: &MapState,
        state: &State,
        ptr: &str,
        ql: QueryLanguage,
        depth: usize,
    ) {
        match (&map.item_processor, &map.iterator) {
            (None, None) => self.required(ptr, &["ItemProcessor"]),
            (Some(_), Some(_)) => self.schema(
                ptr,
                "Only one of the fields [ItemProcessor, Iterator] can be present".into(),
            ),
            (Some(p), None) => {
                self.sub_machine(p, &child(ptr, "ItemProcessor"), depth + 1, Scope::Processor)
            }
            (None, Some(p)) => {
                self.sub_machine(p, &child(ptr, "Iterator"), depth + 1, Scope::Processor)
            }
        }
        self.exclusive(
            (state.parameters.is_some(), map.item_selector.is_some()),
            ptr,
            "Parameters",
            "ItemSelector",
        );
        self.exclusive(
            (
                map.max_concurrency.is_some(),
                map.max_concurrency_path.is_present(),
            ),
            ptr,
            "MaxConcurrency",
            "MaxConcurrencyPath",
        );
        self.exclusive(
            (
                map.tolerated_failure_count.is_some(),
                map.tolerated_failure_count_path.is_present(),
            ),
            ptr,
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
        );
        self.exclusive(
            (
                map.tolerated_failure_percentage.is_some(),
                map.tolerated_failure_percentage_path.is_present(),
            ),
            ptr,
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
        );
        self.int_field(map.max_concurrency, "MaxConcurrency", ptr, 0, ql);
        self.int_field(
            map.tolerated_failure_count,
            "ToleratedFailureCount",
            ptr,
            0,
            ql,
        );
        if let Some(v) = &map.tolerated_failure_percentage {
            let ok = (ql == QueryLanguage::Jsonata && is_jsonata_expr(v))
                || v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p));
            if !ok {
                self.schema(
                    &child(ptr, "ToleratedFailurePercentage"),
                    "The value for the field 'ToleratedFailurePercentage' must be a number between 0 and 100".into(),
                );
            }
        }
        if let Some(items) = map.items.filter(|_| ql == QueryLanguage::Jsonata) {
            if !(items.is_array() || is_jsonata_expr(items)) {
                self.schema(
                    &child(ptr, "Items"),
                    "The value for the field 'Items' must be an ARRAY or a JSONata expression"
                        .into(),
                );
            }
        }
        self.string_field(&map.label, ptr, "Label");
        let objects = [
            ("ItemReader", matches!(map.item_reader, Field::Wrong(_))),
            ("ItemBatcher", matches!(map.item_batcher, Field::Wrong(_))),
            ("ResultWriter", matches!(map.result_writer, Field::Wrong(_))),
        ];
        for (field, wrong) in objects {
            if wrong {
                self.schema(
                    &child(ptr, field),
                    format!("The value for the field '{field}' must be an OBJECT"),
                );
            }
        }
    }

    pub(crate) fn processor_config(&mut self, config: &Field<'_, ProcessorConfig<'_>>, ptr: &str) {
        let config = match config {
            Field::Absent => return,
            Field::Ok(config) => config,
            Field::Wrong(_) => {
                self.schema(
                    ptr,
                    "The value for the field 'ProcessorConfig' must be an OBJECT".into(),
                );
                return;
            }
        };
        for &key in &config.keys {
            let field_ptr = child(ptr, key);
            match key {
                "Mode" => {
                    if let Field::Wrong(_) = config.mode {
                        self.schema(
                            &field_ptr,
                            "The value for the field 'Mode' must be one of: [INLINE, DISTRIBUTED]"
                                .into(),
                        );
                    }
                }
                "ExecutionType" => {
                    if let Field::Wrong(_) = config.execution_type {
                        self.schema(&field_ptr, "The value for the field 'ExecutionType' must be one of: [STANDARD, EXPRESS]".into());
                    }
                }
                _ => self.unsupported(ptr, key),
            }
        }
    }

    pub(crate) fn retry(&mut self, retry: &Field<'_, Vec<Field<'_, Retrier<'_>>>>, ptr: &str) {
        let retriers = match retry {
            Field::Absent => return,
            Field::Ok(retriers) => retriers,
            Field::Wrong(_) => {
                self.schema(
                    ptr,
                    "The value for the field 'Retry' must be an ARRAY".into(),
                );
                return;
            }
        };
        for (i, retrier) in retriers.iter().enumerate() {
            let retrier_ptr = child(ptr, &i.to_string());
            let Field::Ok(retrier) = retrier else {
                self.schema(&retrier_ptr, "A Retrier must be an OBJECT".into());
                continue;
            };
            self.error_equals(
                &retrier.error_equals,
                &retrier_ptr,
                i + 1 == retriers.len(),
                "Retrier",
            );
            let integer = |n: &Field<'_, &serde_json::Number>,
                           range: std::ops::RangeInclusive<i64>| {
                n.ok()
                    .and_then(|n| n.as_i64())
                    .is_some_and(|n| range.contains(&n))
            };
            for &key in &retrier.keys {
                let field_ptr = child(&retrier_ptr, key);
                let (ok, what) = match key {
                    "ErrorEquals" => (true, ""),
                    "Comment" => (retrier.comment.ok().is_some(), "a STRING"),
                    "IntervalSeconds" => (
                        integer(&retrier.interval_seconds, 1..=99_999_999),
                        "a positive integer",
                    ),
                    "MaxAttempts" => (
                        integer(&retrier.max_attempts, 0..=99_999_999),
                        "a non-negative integer",
                    ),
                    "MaxDelaySeconds" => (
                        integer(&retrier.max_delay_seconds, 1..=31_622_400),
                        "a positive integer",
                    ),
                    "BackoffRate" => (
                        retrier
                            .backoff_rate
                            .ok()
                            .and_then(|n| n.as_f64())
                            .is_some_and(|r| r >= 1.0),
                        "a number greater than or equal to 1.0",
                    ),
                    "JitterStrategy" => (
                        retrier.jitter_strategy.ok().is_some(),
                        "one of: [FULL, NONE]",
                    ),
                    _ => {
                        self.unsupported(&retrier_ptr, key);
                        (true, "")
                    }
                };
                if !ok {
                    self.schema(
                        &field_ptr,
                        format!("The value for the field '{key}' must be {what}"),
                    );
                }
            }
        }
    }

    pub(crate) fn catch<'a>(
        &mut self,
        catch: &'a Field<'a, Vec<Field<'a, Catcher<'a>>>>,
        ptr: &str,
        ql: QueryLanguage,
        scope: &Names,
        targets: &mut Vec<&'a str>,
    ) {
        let catchers = match catch {
            Field::Absent => return,
            Field::Ok(catchers) => catchers,
            Field::Wrong(_) => {
                self.schema(
                    ptr,
                    "The value for the field 'Catch' must be an ARRAY".into(),
                );
                return;
            }
        };
        for (i, catcher) in catchers.iter().enumerate() {
            let catcher_ptr = child(ptr, &i.to_string());
            let Field::Ok(catcher) = catcher else {
                self.schema(&catcher_ptr, "A Catcher must be an OBJECT".into());
                continue;
            };
            self.error_equals(
                &catcher.error_equals,
                &catcher_ptr,
                i + 1 == catchers.len(),
                "Catcher",
            );
            if !catcher.next.is_present() {
                self.required(&catcher_ptr, &["Next"]);
            }
            for &key in &catcher.keys {
                let field_ptr = child(&catcher_ptr, key);
                match (key, ql) {
                    ("ErrorEquals", _) => {}
                    ("Next", _) => self.target(&catcher.next, &catcher_ptr, "Next", scope, targets),
                    ("Comment", _) => self.string_field(&catcher.comment, &catcher_ptr, key),
                    ("Assign", _) => {
                        if let Some(assign) = &catcher.assign {
                            self.assign(assign, &field_ptr, ql);
                        }
                    }
                    ("ResultPath", QueryLanguage::JsonPath) => {
                        self.result_path(&catcher.result_path, &catcher_ptr)
                    }
                    ("Output", QueryLanguage::Jsonata) => {
                        if let Some(output) = &catcher.output {
                            self.jsonata_value(output, &field_ptr, 0);
                        }
                    }
                    ("ResultPath", QueryLanguage::Jsonata) => self.schema(
                        &catcher_ptr,
                        format!(
                            "The field '{key}' is not supported when 'QueryLanguage' is 'JSONata'"
                        ),
                    ),
                    ("Output", QueryLanguage::JsonPath) => self.schema(
                        &catcher_ptr,
                        format!(
                            "The field '{key}' is not supported when 'QueryLanguage' is 'JSONPath'"
                        ),
                    ),
                    _ => self.unsupported(&catcher_ptr, key),
                }
            }
        }
    }

    /// `ErrorEquals`: a non-empty array of strings; `States.ALL` alone and in the last entry.
    pub(crate) fn error_equals(
        &mut self,
        names: &Field<'_, Vec<Field<'_, &str>>>,
        ptr: &str,
        last: bool,
        what: &str,
    ) {
        let errors_ptr = child(ptr, "ErrorEquals");
        match names {
            Field::Absent => self.required(ptr, &["ErrorEquals"]),
            Field::Ok(names) if names.is_empty() => {
                self.schema(&errors_ptr, "Value cannot be empty".into())
            }
            Field::Ok(names) => {
                if names.iter().any(|n| !matches!(n, Field::Ok(_))) {
                    self.schema(
                        &errors_ptr,
                        "The values of the field 'ErrorEquals' must be STRINGs".into(),
                    );
                }
                if names
                    .iter()
                    .any(|n| n.ok().is_some_and(|n| *n == "States.ALL"))
                {
                    if names.len() > 1 {
                        self.schema(
                            &errors_ptr,
                            "'States.ALL' must appear alone in 'ErrorEquals'".into(),
                        );
                    }
                    if !last {
                        self.schema(
                            ptr,
                            format!("A {what} with 'States.ALL' must be the last one"),
                        );
                    }
                }
            }
            Field::Wrong(_) => self.schema(
                &errors_ptr,
                "The value for the field 'ErrorEquals' must be an ARRAY".into(),
            ),
        }
    }
}

//! One state: its type and fields in its query language, its transitions, and the checks
//! particular to each type (Task resources, Wait durations, Map processors, Retry and Catch).

use super::fields::*;
use crate::model::*;
use crate::validate::*;
use serde_json::{Map, Value};

impl Validator {
    /// One state. Returns its transitions and whether it ends its scope.
    pub(crate) fn state<'a>(
        &mut self,
        state: &'a Value,
        ptr: &str,
        scope: &Map<String, Value>,
        depth: usize,
    ) -> StateInfo<'a> {
        let mut info = StateInfo {
            targets: Vec::new(),
            terminal: false,
        };
        let Some(obj) = state.as_object() else {
            self.schema(ptr, "The value for a state must be an OBJECT".into());
            return info;
        };
        let ql = match obj.get("QueryLanguage").map(QueryLanguage::parse) {
            None => self.top_ql,
            Some(Some(QueryLanguage::Jsonata)) => QueryLanguage::Jsonata,
            Some(Some(QueryLanguage::JsonPath)) => {
                if self.top_ql == QueryLanguage::Jsonata {
                    self.schema(
                        ptr,
                        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine".into(),
                    );
                }
                QueryLanguage::JsonPath
            }
            Some(None) => {
                self.schema(
                    &child(ptr, "QueryLanguage"),
                    "The value for the field 'QueryLanguage' must be one of: [JSONPath, JSONata]"
                        .into(),
                );
                self.top_ql
            }
        };
        let state_type = match obj.get("Type") {
            None => {
                self.required(ptr, &["Type"]);
                return info;
            }
            Some(Value::String(t)) if StateType::parse(t).is_some() => {
                StateType::parse(t).expect("checked in the guard")
            }
            Some(_) => {
                self.schema(
                    &child(ptr, "Type"),
                    format!(
                        "The value for the field 'Type' must be one of: [{}]",
                        StateType::ALL.map(StateType::as_str).join(", ")
                    ),
                );
                return info;
            }
        };

        // Fields: known for this type, in the state's language.
        let fields = type_fields(state_type);
        for key in obj.keys() {
            let lang = COMMON_FIELDS
                .iter()
                .chain(fields)
                .find(|(f, _)| f == key)
                .map(|(_, l)| *l);
            match (lang, ql) {
                (None, _) => self.unsupported(ptr, key),
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
        if let Some(c) = obj.get("Comment") {
            self.expect_string(c, &child(ptr, "Comment"), "Comment");
        }

        // Transitions.
        match state_type {
            StateType::Succeed | StateType::Fail => info.terminal = true,
            StateType::Choice => {}
            _ => {
                let next = obj.get("Next");
                let end = obj.get("End");
                match end {
                    None => {}
                    Some(Value::Bool(true)) => info.terminal = true,
                    Some(Value::Bool(false)) => {}
                    Some(_) => self.schema(
                        &child(ptr, "End"),
                        "The value for the field 'End' must be a BOOLEAN".into(),
                    ),
                }
                match (next, info.terminal) {
                    (Some(_), true) => {
                        self.schema(ptr, "Only one of 'Next' or 'End' can be present".into())
                    }
                    (None, false) => {
                        self.schema(ptr, "Exactly one of 'Next' or 'End' is required".into())
                    }
                    _ => {}
                }
                if let Some(next) = next {
                    self.target(next, &child(ptr, "Next"), "Next", scope, &mut info.targets);
                }
            }
        }

        // Paths and templates shared by several types (only in the language they belong to).
        if ql == QueryLanguage::JsonPath {
            for field in ["InputPath", "OutputPath"] {
                if let Some(v) = obj.get(field) {
                    self.nullable_path(v, &child(ptr, field), field);
                }
            }
            if let Some(v) = obj.get("ResultPath") {
                self.result_path(v, &child(ptr, "ResultPath"));
            }
            for field in ["Parameters", "ResultSelector", "ItemSelector"] {
                if let Some(v) = obj.get(field) {
                    self.template(v, &child(ptr, field), field, 0);
                }
            }
        } else {
            for field in ["Arguments", "Output", "ItemSelector", "Items"] {
                if let Some(v) = obj.get(field) {
                    self.jsonata_value(v, &child(ptr, field), 0);
                }
            }
            for field in JSONATA_SCALAR_FIELDS {
                if let Some(v) = obj.get(field) {
                    self.jsonata_parse(v, &child(ptr, field));
                }
            }
        }
        if let Some(assign) = obj.get("Assign") {
            self.assign(assign, &child(ptr, "Assign"), ql);
        }
        for field in fields
            .iter()
            .map(|(f, _)| *f)
            .filter(|f| f.ends_with("Path"))
        {
            if matches!(field, "InputPath" | "OutputPath" | "ResultPath")
                || ql != QueryLanguage::JsonPath
            {
                continue;
            }
            if let Some(v) = obj.get(field) {
                if matches!(field, "ErrorPath" | "CausePath") {
                    self.path_or_call(v, &child(ptr, field), field);
                } else {
                    self.path(v, &child(ptr, field), field);
                }
            }
        }

        match state_type {
            StateType::Pass => self.pass(obj, ptr),
            StateType::Task => self.task(obj, ptr, ql),
            StateType::Choice => self.choice(obj, ptr, ql, scope, &mut info.targets),
            StateType::Wait => self.wait(obj, ptr, ql),
            StateType::Fail => self.fail(obj, ptr),
            StateType::Parallel => self.parallel(obj, ptr, depth),
            StateType::Map => self.map(obj, ptr, ql, depth),
            StateType::Succeed => {}
        }
        if state_type.handles_errors() {
            self.retry(obj.get("Retry"), &child(ptr, "Retry"));
            self.catch(
                obj.get("Catch"),
                &child(ptr, "Catch"),
                ql,
                scope,
                &mut info.targets,
            );
        }
        info
    }

    pub(crate) fn pass(&mut self, obj: &Map<String, Value>, ptr: &str) {
        if let Some(Value::Object(result)) = obj.get("Result") {
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

    pub(crate) fn task(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) {
        match obj.get("Resource") {
            None => self.required(ptr, &["Resource"]),
            Some(v) => {
                let resource_ptr = child(ptr, "Resource");
                if let Some(resource) = v.as_str() {
                    self.resource(resource, &resource_ptr);
                } else {
                    self.schema(
                        &resource_ptr,
                        "The value for the field 'Resource' must be a STRING".into(),
                    );
                }
            }
        }
        self.int_field(obj, "TimeoutSeconds", ptr, 1, ql);
        self.int_field(obj, "HeartbeatSeconds", ptr, 1, ql);
        self.exclusive(obj, ptr, "TimeoutSeconds", "TimeoutSecondsPath");
        self.exclusive(obj, ptr, "HeartbeatSeconds", "HeartbeatSecondsPath");
        if let (Some(t), Some(h)) = (
            obj.get("TimeoutSeconds").and_then(Value::as_i64),
            obj.get("HeartbeatSeconds").and_then(Value::as_i64),
        ) {
            if h >= t {
                self.schema(
                    &child(ptr, "HeartbeatSeconds"),
                    "The value for the field 'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'".into(),
                );
            }
        }
        if let Some(creds) = obj.get("Credentials") {
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

    pub(crate) fn wait(&mut self, obj: &Map<String, Value>, ptr: &str, ql: QueryLanguage) {
        let durations = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];
        let present: Vec<&str> = durations
            .into_iter()
            .filter(|f| obj.contains_key(*f))
            .collect();
        match present.len() {
            0 => self.schema(ptr, "Exactly one of the fields [Seconds, Timestamp, SecondsPath, TimestampPath] is required".into()),
            1 => {}
            _ => self.schema(ptr, format!("Only one of the fields [{}] can be present", present.join(", "))),
        }
        if let Some(seconds) = obj.get("Seconds") {
            let ok = (ql == QueryLanguage::Jsonata && is_jsonata_expr(seconds))
                || int_value(seconds).is_some_and(|n| (0..=99_999_999).contains(&n));
            if !ok {
                self.schema(
                    &child(ptr, "Seconds"),
                    "The value for the field 'Seconds' must be a non-negative integer".into(),
                );
            }
        }
        if let Some(ts) = obj.get("Timestamp") {
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

    pub(crate) fn fail(&mut self, obj: &Map<String, Value>, ptr: &str) {
        for field in ["Error", "Cause"] {
            if let Some(v) = obj.get(field) {
                self.expect_string(v, &child(ptr, field), field);
            }
        }
        self.exclusive(obj, ptr, "Error", "ErrorPath");
        self.exclusive(obj, ptr, "Cause", "CausePath");
    }

    pub(crate) fn parallel(&mut self, obj: &Map<String, Value>, ptr: &str, depth: usize) {
        let branches_ptr = child(ptr, "Branches");
        match obj.get("Branches") {
            None => self.required(ptr, &["Branches"]),
            Some(Value::Array(branches)) if branches.is_empty() => {
                self.schema(&branches_ptr, "Value cannot be empty".into())
            }
            Some(Value::Array(branches)) => {
                for (i, branch) in branches.iter().enumerate() {
                    self.machine(
                        branch,
                        &child(&branches_ptr, &i.to_string()),
                        depth + 1,
                        Scope::Branch,
                    );
                }
            }
            Some(_) => self.schema(
                &branches_ptr,
                "The value for the field 'Branches' must be an ARRAY".into(),
            ),
        }
    }

    pub(crate) fn map(
        &mut self,
        obj: &Map<String, Value>,
        ptr: &str,
        ql: QueryLanguage,
        depth: usize,
    ) {
        match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (None, None) => self.required(ptr, &["ItemProcessor"]),
            (Some(_), Some(_)) => self.schema(
                ptr,
                "Only one of the fields [ItemProcessor, Iterator] can be present".into(),
            ),
            (Some(p), None) => {
                self.machine(p, &child(ptr, "ItemProcessor"), depth + 1, Scope::Processor)
            }
            (None, Some(p)) => {
                self.machine(p, &child(ptr, "Iterator"), depth + 1, Scope::Processor)
            }
        }
        self.exclusive(obj, ptr, "Parameters", "ItemSelector");
        self.exclusive(obj, ptr, "MaxConcurrency", "MaxConcurrencyPath");
        self.exclusive(
            obj,
            ptr,
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
        );
        self.exclusive(
            obj,
            ptr,
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
        );
        self.int_field(obj, "MaxConcurrency", ptr, 0, ql);
        self.int_field(obj, "ToleratedFailureCount", ptr, 0, ql);
        if let Some(v) = obj.get("ToleratedFailurePercentage") {
            let ok = (ql == QueryLanguage::Jsonata && is_jsonata_expr(v))
                || v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p));
            if !ok {
                self.schema(
                    &child(ptr, "ToleratedFailurePercentage"),
                    "The value for the field 'ToleratedFailurePercentage' must be a number between 0 and 100".into(),
                );
            }
        }
        if let Some(items) = obj.get("Items").filter(|_| ql == QueryLanguage::Jsonata) {
            if !(items.is_array() || is_jsonata_expr(items)) {
                self.schema(
                    &child(ptr, "Items"),
                    "The value for the field 'Items' must be an ARRAY or a JSONata expression"
                        .into(),
                );
            }
        }
        for field in ["Label"] {
            if let Some(v) = obj.get(field) {
                self.expect_string(v, &child(ptr, field), field);
            }
        }
        for field in ["ItemReader", "ItemBatcher", "ResultWriter"] {
            if let Some(v) = obj.get(field) {
                if !v.is_object() {
                    self.schema(
                        &child(ptr, field),
                        format!("The value for the field '{field}' must be an OBJECT"),
                    );
                }
            }
        }
    }

    pub(crate) fn processor_config(&mut self, v: &Value, ptr: &str) {
        let Some(obj) = v.as_object() else {
            self.schema(
                ptr,
                "The value for the field 'ProcessorConfig' must be an OBJECT".into(),
            );
            return;
        };
        for (key, value) in obj {
            let field_ptr = child(ptr, key);
            match key.as_str() {
                "Mode" => {
                    if !matches!(value.as_str(), Some("INLINE" | "DISTRIBUTED")) {
                        self.schema(
                            &field_ptr,
                            "The value for the field 'Mode' must be one of: [INLINE, DISTRIBUTED]"
                                .into(),
                        );
                    }
                }
                "ExecutionType" => {
                    if !matches!(value.as_str(), Some("STANDARD" | "EXPRESS")) {
                        self.schema(&field_ptr, "The value for the field 'ExecutionType' must be one of: [STANDARD, EXPRESS]".into());
                    }
                }
                _ => self.unsupported(ptr, key),
            }
        }
    }

    pub(crate) fn retry(&mut self, v: Option<&Value>, ptr: &str) {
        let Some(v) = v else { return };
        let Some(retriers) = v.as_array() else {
            self.schema(
                ptr,
                "The value for the field 'Retry' must be an ARRAY".into(),
            );
            return;
        };
        for (i, retrier) in retriers.iter().enumerate() {
            let retrier_ptr = child(ptr, &i.to_string());
            let Some(obj) = retrier.as_object() else {
                self.schema(&retrier_ptr, "A Retrier must be an OBJECT".into());
                continue;
            };
            self.error_equals(obj, &retrier_ptr, i + 1 == retriers.len(), "Retrier");
            for (key, value) in obj {
                let field_ptr = child(&retrier_ptr, key);
                let (ok, what) = match key.as_str() {
                    "ErrorEquals" => (true, ""),
                    "Comment" => (value.is_string(), "a STRING"),
                    "IntervalSeconds" => (
                        int_value(value).is_some_and(|n| (1..=99_999_999).contains(&n)),
                        "a positive integer",
                    ),
                    "MaxAttempts" => (
                        int_value(value).is_some_and(|n| (0..=99_999_999).contains(&n)),
                        "a non-negative integer",
                    ),
                    "MaxDelaySeconds" => (
                        int_value(value).is_some_and(|n| (1..=31_622_400).contains(&n)),
                        "a positive integer",
                    ),
                    "BackoffRate" => (
                        value.as_f64().is_some_and(|r| r >= 1.0),
                        "a number greater than or equal to 1.0",
                    ),
                    "JitterStrategy" => (
                        matches!(value.as_str(), Some("FULL" | "NONE")),
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
        v: Option<&'a Value>,
        ptr: &str,
        ql: QueryLanguage,
        scope: &Map<String, Value>,
        targets: &mut Vec<&'a str>,
    ) {
        let Some(v) = v else { return };
        let Some(catchers) = v.as_array() else {
            self.schema(
                ptr,
                "The value for the field 'Catch' must be an ARRAY".into(),
            );
            return;
        };
        for (i, catcher) in catchers.iter().enumerate() {
            let catcher_ptr = child(ptr, &i.to_string());
            let Some(obj) = catcher.as_object() else {
                self.schema(&catcher_ptr, "A Catcher must be an OBJECT".into());
                continue;
            };
            self.error_equals(obj, &catcher_ptr, i + 1 == catchers.len(), "Catcher");
            if !obj.contains_key("Next") {
                self.required(&catcher_ptr, &["Next"]);
            }
            for (key, value) in obj {
                let field_ptr = child(&catcher_ptr, key);
                match (key.as_str(), ql) {
                    ("ErrorEquals", _) => {}
                    ("Next", _) => self.target(value, &field_ptr, "Next", scope, targets),
                    ("Comment", _) => {
                        self.expect_string(value, &field_ptr, key);
                    }
                    ("Assign", _) => self.assign(value, &field_ptr, ql),
                    ("ResultPath", QueryLanguage::JsonPath) => self.result_path(value, &field_ptr),
                    ("Output", QueryLanguage::Jsonata) => self.jsonata_value(value, &field_ptr, 0),
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
        obj: &Map<String, Value>,
        ptr: &str,
        last: bool,
        what: &str,
    ) {
        let errors_ptr = child(ptr, "ErrorEquals");
        match obj.get("ErrorEquals") {
            None => self.required(ptr, &["ErrorEquals"]),
            Some(Value::Array(names)) if names.is_empty() => {
                self.schema(&errors_ptr, "Value cannot be empty".into())
            }
            Some(Value::Array(names)) => {
                if names.iter().any(|n| !n.is_string()) {
                    self.schema(
                        &errors_ptr,
                        "The values of the field 'ErrorEquals' must be STRINGs".into(),
                    );
                }
                if names.iter().any(|n| n == "States.ALL") {
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
            Some(_) => self.schema(
                &errors_ptr,
                "The value for the field 'ErrorEquals' must be an ARRAY".into(),
            ),
        }
    }
}

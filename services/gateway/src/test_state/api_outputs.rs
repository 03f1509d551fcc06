//! TestState's mock validation (`mock.fieldValidationMode`): a mocked result is checked
//! against the output shape of the API its Task calls, as AWS does — STRICT checks types,
//! constraints and required fields, PRESENT only the fields given, NONE nothing.
//! The shapes are data (`api_outputs.json`, a subset of AWS's published service models).

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// `mock.fieldValidationMode`, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum FieldValidationMode {
    /// Types, constraints and required fields (the API's default).
    #[default]
    Strict,
    /// Types and constraints of the fields present.
    Present,
    /// No validation.
    None,
}

/// One shape of a service model, reduced to what validation reads.
#[derive(Debug, Deserialize)]
struct Shape {
    #[serde(default, rename = "ref")]
    reference: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    members: BTreeMap<String, Shape>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    member: Option<Box<Shape>>,
    #[serde(default)]
    value: Option<Box<Shape>>,
    #[serde(default, rename = "enum")]
    values: Option<Vec<String>>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Models {
    shapes: BTreeMap<String, Shape>,
    operations: BTreeMap<String, Shape>,
}

static MODELS: LazyLock<Models> = LazyLock::new(|| {
    serde_json::from_str(include_str!("api_outputs.json"))
        .expect("api_outputs.json is checked by a test")
});

/// The `service:action` a Task resource calls (`arn:aws:states:::aws-sdk:kms:encrypt` →
/// `kms:encrypt`, `arn:aws:states:::lambda:invoke` → `lambda:invoke`); `None` for an
/// integration pattern whose output is not the API's (`.sync`, `.waitForTaskToken`) or a
/// resource that is not a service integration.
fn operation(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:aws:states:::")?;
    let rest = rest.strip_prefix("aws-sdk:").unwrap_or(rest);
    (!rest.contains('.')).then_some(rest)
}

/// Checks a mocked result against the output shape of the API `resource` calls. A resource
/// whose API is not among the vendored shapes is not checked. The error is AWS's message.
pub fn validate(resource: &str, result: &Value, mode: FieldValidationMode) -> Result<(), String> {
    if mode == FieldValidationMode::None {
        return Ok(());
    }
    let Some(shape) = operation(resource).and_then(|op| MODELS.operations.get(op)) else {
        return Ok(());
    };
    check(shape, "", result, mode)
        .map_err(|detail| format!("Mock result schema validation error: {detail}"))
}

fn resolve(shape: &Shape) -> &Shape {
    match &shape.reference {
        Some(name) => MODELS.shapes.get(name).map_or(shape, resolve),
        None => shape,
    }
}

fn check(
    shape: &Shape,
    field: &str,
    value: &Value,
    mode: FieldValidationMode,
) -> Result<(), String> {
    let shape = resolve(shape);
    let must = |what: &str| Err(format!("Field '{field}' must be {what}"));
    match shape.kind.as_deref().unwrap_or("any") {
        "structure" => {
            let Value::Object(members) = value else {
                return must("an object");
            };
            structure(shape, members, mode)
        }
        "map" => {
            let Value::Object(entries) = value else {
                return must("an object");
            };
            match &shape.value {
                Some(inner) => entries
                    .iter()
                    .try_for_each(|(key, v)| check(inner, key, v, mode)),
                None => Ok(()),
            }
        }
        "list" => {
            let Value::Array(items) = value else {
                return must("an array");
            };
            match &shape.member {
                Some(inner) => items.iter().try_for_each(|v| check(inner, field, v, mode)),
                None => Ok(()),
            }
        }
        "string" | "blob" | "timestamp" => {
            let Some(text) = value.as_str() else {
                return must("a string");
            };
            if let Some(values) = &shape.values {
                if !values.iter().any(|v| v == text) {
                    return Err(format!("Field '{field}' is not an expected value"));
                }
            }
            let length = text.chars().count() as f64;
            if shape.min.is_some_and(|min| length < min) {
                return Err(format!(
                    "Field '{field}' is smaller than the minimum length"
                ));
            }
            if shape.max.is_some_and(|max| length > max) {
                return Err(format!("Field '{field}' is larger than the maximum length"));
            }
            Ok(())
        }
        kind @ ("integer" | "long" | "double" | "float") => {
            let Some(number) = value.as_f64() else {
                return must("a number");
            };
            if kind != "double" && kind != "float" && !(value.is_i64() || value.is_u64()) {
                return must("an integer");
            }
            if shape.min.is_some_and(|min| number < min) {
                return Err(format!("Field '{field}' is less than the minimum value"));
            }
            if shape.max.is_some_and(|max| number > max) {
                return Err(format!("Field '{field}' exceeds the maximum value"));
            }
            Ok(())
        }
        "boolean" => match value {
            Value::Bool(_) => Ok(()),
            _ => must("a boolean"),
        },
        _ => Ok(()),
    }
}

/// A structure's members: fields the model does not name are let through (AWS answers
/// them unchanged); STRICT also wants every required member.
fn structure(
    shape: &Shape,
    members: &Map<String, Value>,
    mode: FieldValidationMode,
) -> Result<(), String> {
    if mode == FieldValidationMode::Strict {
        if let Some(missing) = shape.required.iter().find(|r| !members.contains_key(*r)) {
            return Err(format!("Required field '{missing}' is missing"));
        }
    }
    for (name, value) in members {
        if let Some(member) = shape.members.get(name) {
            check(member, name, value, mode)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use FieldValidationMode::*;

    fn err(resource: &str, result: Value, mode: FieldValidationMode) -> String {
        validate(resource, &result, mode).expect_err("invalid")
    }

    #[test]
    fn every_reference_names_a_shape() {
        fn refs(shape: &Shape) {
            if let Some(name) = &shape.reference {
                assert!(MODELS.shapes.contains_key(name), "{name}");
            }
            shape.members.values().for_each(refs);
            shape
                .member
                .iter()
                .chain(shape.value.iter())
                .for_each(|s| refs(s));
        }
        MODELS
            .shapes
            .values()
            .chain(MODELS.operations.values())
            .for_each(refs);
    }

    #[test]
    fn types_constraints_and_required_fields_are_checked() {
        let kms = "arn:aws:states:::aws-sdk:kms:encrypt";
        assert!(err(kms, json!({"CiphertextBlob": 1}), Strict)
            .ends_with("Field 'CiphertextBlob' must be a string"));
        assert!(err(kms, json!({"CiphertextBlob": ""}), Present)
            .contains("smaller than the minimum length"));
        let lambda = "arn:aws:states:::aws-sdk:lambda:getFunction";
        assert!(err(
            lambda,
            json!({"Configuration": {"MemorySize": 127}}),
            Strict
        )
        .contains("'MemorySize' is less than the minimum value"));
        assert!(err(
            lambda,
            json!({"Configuration": {"MemorySize": 10241}}),
            Strict
        )
        .contains("exceeds the maximum value"));
        assert!(err(
            lambda,
            json!({"Configuration": {"MemorySize": 1.5}}),
            Strict
        )
        .contains("must be an integer"));
        let s3 = "arn:aws:states:::aws-sdk:s3:getObject";
        assert!(err(s3, json!({"StorageClass": "Papyrus"}), Strict)
            .contains("is not an expected value"));
        assert!(err(s3, json!({"DeleteMarker": "yes"}), Strict).contains("must be a boolean"));
        let events = "arn:aws:states:::events:putEvents";
        assert!(err(events, json!({"Entries": {}}), Strict).contains("'Entries' must be an array"));
        assert!(err(
            events,
            json!({"Entries": [{"EventId": "a"}, {"EventId": [1]}]}),
            Strict
        )
        .contains("'EventId' must be a string"));
        let ddb = "arn:aws:states:::dynamodb:putItem";
        assert!(err(ddb, json!({"ConsumedCapacity": "x"}), Strict).contains("must be an object"));
        let sfn = "arn:aws:states:::states:startExecution";
        assert_eq!(
            err(sfn, json!({"executionArn": "a"}), Strict),
            "Mock result schema validation error: Required field 'ExecutionArn' is missing"
        );
    }

    #[test]
    fn present_skips_required_and_none_skips_all() {
        let sfn = "arn:aws:states:::states:startExecution";
        validate(sfn, &json!({"executionArn": "a"}), Present).expect("present: not required");
        assert!(
            err(sfn, json!({"StartDate": true}), Present).contains("'StartDate' must be a string")
        );
        validate(sfn, &json!({"StartDate": true}), None).expect("none: nothing checked");
        validate(
            "arn:aws:states:::events:putEvents",
            &json!({"random": "json"}),
            Strict,
        )
        .expect("unknown fields pass");
    }

    #[test]
    fn unknown_apis_and_other_patterns_are_not_checked() {
        validate(
            "arn:aws:states:::aws-sdk:ec2:describeInstances",
            &json!(1),
            Strict,
        )
        .expect("unknown");
        validate(
            "arn:aws:states:::states:startExecution.sync",
            &json!({}),
            Strict,
        )
        .expect(".sync");
        validate("arn:aws:lambda:us-east-1:1:function:f", &json!(1), Strict).expect("lambda ARN");
    }
}

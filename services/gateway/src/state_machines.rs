//! CreateStateMachine, DescribeStateMachine, UpdateStateMachine, DeleteStateMachine,
//! ListStateMachines and ValidateStateMachineDefinition. A state machine lives in the
//! compacted registry topic: its record's value is a `RegistryEntry` (what workers read)
//! with the API's extra fields alongside (type, dates, logging as given), and a tombstone
//! deletes it. Writes are produced and acknowledged before they are answered, and applied
//! here at once so the writer reads its own writes; the topic brings everyone else along.

use crate::protocol::{self, epoch_seconds, ApiError};
use crate::publish::Record;
use crate::Gateway;
use asl::history::Level;
use asl::validate::{self, Diagnostic, MachineType, Severity};
use axum::response::Response;
use runtime::registry::{Registry, RegistryEntry};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A registry record's value as the gateway writes it: what workers read, plus the API's
/// own fields (workers ignore them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StoredEntry {
    /// What workers read.
    #[serde(flatten)]
    pub entry: RegistryEntry,
    /// Always `EXPRESS` for now.
    #[serde(default = "express", rename = "type")]
    pub machine_type: String,
    /// When the state machine was created, epoch milliseconds.
    #[serde(default)]
    pub creation_date_ms: Option<i64>,
    /// When it was last updated, epoch milliseconds.
    #[serde(default)]
    pub update_date_ms: Option<i64>,
    /// The revision id UpdateStateMachine answered.
    #[serde(default)]
    pub revision_id: Option<String>,
}

fn express() -> String {
    "EXPRESS".into()
}

/// The state machines this gateway knows: the compiled registry (shared with sync
/// executions) and the API's view of each entry.
pub struct Catalog {
    registry: Arc<Registry>,
    entries: RwLock<BTreeMap<String, StoredEntry>>,
    /// Serializes this gateway's writes, so check-then-write decisions hold.
    writes: tokio::sync::Mutex<()>,
}

impl Catalog {
    /// An empty catalog over `registry`.
    pub fn new(registry: Arc<Registry>) -> Catalog {
        Catalog {
            registry,
            entries: RwLock::default(),
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// The compiled registry.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Applies a registry record: a value is a revision, no value deletes.
    pub fn follow(&self, name: &str, payload: Option<&[u8]>) {
        match payload {
            None => self.remove(name),
            Some(payload) => match serde_json::from_slice::<StoredEntry>(payload) {
                Ok(stored) => {
                    if let Err(error) = self.apply(stored) {
                        tracing::warn!(message = "Registry revision refused.", %error);
                    }
                }
                Err(error) => {
                    tracing::warn!(message = "Registry record is not an entry.", %error, name)
                }
            },
        }
    }

    fn apply(&self, stored: StoredEntry) -> Result<(), runtime::registry::RegistryError> {
        self.registry.apply(&stored.entry)?;
        self.entries
            .write()
            .expect("catalog lock is never poisoned")
            .insert(stored.entry.name.clone(), stored);
        Ok(())
    }

    fn remove(&self, name: &str) {
        // The gateway starts only live revisions; the deletion time matters to workers.
        self.registry.remove(name, now_ms());
        self.entries
            .write()
            .expect("catalog lock is never poisoned")
            .remove(name);
    }

    fn get(&self, name: &str) -> Option<StoredEntry> {
        self.entries
            .read()
            .expect("catalog lock is never poisoned")
            .get(name)
            .cloned()
    }

    /// Up to `limit` entries after `after`, by name; and whether more follow.
    fn page(&self, after: Option<&str>, limit: usize) -> (Vec<StoredEntry>, bool) {
        let entries = self.entries.read().expect("catalog lock is never poisoned");
        let mut iter = entries
            .range::<str, _>((
                after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                std::ops::Bound::Unbounded,
            ))
            .map(|(_, e)| e.clone());
        let page: Vec<StoredEntry> = iter.by_ref().take(limit).collect();
        (page, iter.next().is_some())
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LoggingConfiguration {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    include_execution_data: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    name: String,
    definition: String,
    #[serde(default)]
    role_arn: String,
    #[serde(default, rename = "type")]
    machine_type: Option<String>,
    #[serde(default)]
    logging_configuration: Option<LoggingConfiguration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArnInput {
    state_machine_arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    state_machine_arn: String,
    #[serde(default)]
    definition: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    logging_configuration: Option<LoggingConfiguration>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidateInput {
    definition: String,
    #[serde(default, rename = "type")]
    machine_type: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
}

/// The state machine name in an ARN `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`
/// (a version or alias suffix is not supported).
pub fn machine_name(arn: &str) -> Result<&str, ApiError> {
    let invalid = |why: &str| ApiError::InvalidArn(format!("Invalid Arn: '{why}: {arn}'"));
    if !arn.starts_with("arn:") {
        return Err(invalid("Invalid ARN prefix"));
    }
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 7 || parts[2] != "states" {
        return Err(invalid("Resource type not valid in this context"));
    }
    if parts[5] != "stateMachine" {
        return Err(invalid("Resource type not valid in this context"));
    }
    if !protocol::valid_name(parts[6]) {
        return Err(invalid("Resource name not valid"));
    }
    Ok(parts[6])
}

/// AWS's StateMachineDoesNotExist for `arn`, as every operation that names one answers it.
pub(crate) fn does_not_exist(arn: &str) -> ApiError {
    ApiError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{arn}'"))
}

/// The definition rules the gateway applies (see `GatewayConfig::definition_rules`).
fn rules(gateway: &Gateway) -> MachineType {
    if gateway.config.definition_rules == "standard" {
        MachineType::Standard
    } else {
        MachineType::Express
    }
}

fn check_definition(definition: &str, machine_type: MachineType) -> Result<(), ApiError> {
    let diagnostics = validate::validate_text_for(definition, machine_type);
    if validate::has_errors(&diagnostics) {
        return Err(ApiError::InvalidDefinition(validate::aws_message(
            &diagnostics,
        )));
    }
    Ok(())
}

fn check_type(machine_type: Option<&str>) -> Result<(), ApiError> {
    match machine_type {
        // Absent means STANDARD at AWS; here it means the one type there is.
        None | Some("EXPRESS") => Ok(()),
        Some("STANDARD") => Err(ApiError::StateMachineTypeNotSupported(
            "Quickstep runs EXPRESS state machines only: STANDARD is not supported (pass --type EXPRESS)".into(),
        )),
        Some(other) => Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ))),
    }
}

fn check_logging(logging: &LoggingConfiguration) -> Result<(), ApiError> {
    match logging.level.as_deref() {
        None => Ok(()),
        Some(level) if Level::parse(level).is_some() => Ok(()),
        Some(other) => Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]"
        ))),
    }
}

pub(crate) fn now_ms() -> i64 {
    asl::interpret::Clock::now_ms(&runtime::clock::SystemClock)
}

async fn write(gateway: &Gateway, stored: StoredEntry) -> Result<(), ApiError> {
    let payload = serde_json::to_vec(&stored).expect("an entry always renders");
    gateway
        .publisher
        .publish(Record {
            topic: gateway.config.registry_topic.clone(),
            key: stored.entry.name.clone(),
            payload: Some(payload),
            headers: Vec::new(),
        })
        .await
        .map_err(ApiError::Internal)?;
    gateway
        .catalog
        .apply(stored)
        .map_err(|e| ApiError::InvalidDefinition(e.to_string()))
}

/// CreateStateMachine.
pub async fn create(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: CreateInput = protocol::parse(body)?;
    if !protocol::valid_name(&input.name) {
        return Err(ApiError::InvalidName(format!(
            "Invalid Name: '{}'",
            input.name
        )));
    }
    check_type(input.machine_type.as_deref())?;
    let logging = input.logging_configuration.unwrap_or_default();
    check_logging(&logging)?;
    check_definition(&input.definition, rules(gateway))?;
    let arn = gateway.catalog.registry.arn(&input.name);
    let entry = RegistryEntry {
        name: input.name.clone(),
        definition: input.definition,
        role_arn: input.role_arn,
        level: logging.level,
        include_execution_data: logging.include_execution_data.unwrap_or(false),
    };
    // A second look on a miss (for a new name, always: one registry round), before the
    // write lock so other writes do not queue behind it: the same name created through
    // another gateway a moment ago is this create's conflict (or its repeat), not a machine
    // to overwrite.
    gateway
        .second_look(|| gateway.catalog.get(&input.name))
        .await;
    let _write = gateway.catalog.writes.lock().await;
    if let Some(existing) = gateway.catalog.get(&input.name) {
        // AWS answers a repeated identical create with the existing machine.
        if existing.entry == entry {
            return Ok(protocol::ok(json!({
                "stateMachineArn": arn,
                "creationDate": epoch_seconds(existing.creation_date_ms.unwrap_or_default()),
            })));
        }
        return Err(ApiError::StateMachineAlreadyExists(format!(
            "State Machine Already Exists: '{arn}'"
        )));
    }
    let created = now_ms();
    write(
        gateway,
        StoredEntry {
            entry,
            machine_type: express(),
            creation_date_ms: Some(created),
            update_date_ms: None,
            revision_id: None,
        },
    )
    .await?;
    Ok(protocol::ok(json!({
        "stateMachineArn": arn,
        "creationDate": epoch_seconds(created),
    })))
}

/// Creates or replaces a state machine from a trusted source (the examples of `quickstep
/// dev`): Quickstep's own rules, no conflict check. Answers its ARN.
pub async fn put(gateway: &Gateway, name: &str, definition: &str) -> Result<String, ApiError> {
    if !protocol::valid_name(name) {
        return Err(ApiError::InvalidName(format!("Invalid Name: '{name}'")));
    }
    check_definition(definition, MachineType::Standard)?;
    let _write = gateway.catalog.writes.lock().await;
    let now = now_ms();
    let created = gateway
        .catalog
        .get(name)
        .and_then(|e| e.creation_date_ms)
        .unwrap_or(now);
    write(
        gateway,
        StoredEntry {
            entry: RegistryEntry {
                name: name.to_owned(),
                definition: definition.to_owned(),
                role_arn: String::new(),
                level: None,
                include_execution_data: false,
            },
            machine_type: express(),
            creation_date_ms: Some(created),
            update_date_ms: (created != now).then_some(now),
            revision_id: None,
        },
    )
    .await?;
    Ok(gateway.catalog.registry.arn(name))
}

/// DescribeStateMachine.
pub async fn describe(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: ArnInput = protocol::parse(body)?;
    let name = machine_name(&input.state_machine_arn)?;
    gateway
        .second_look(|| describe_value(gateway, name))
        .await
        .map(protocol::ok)
        .ok_or_else(|| does_not_exist(&input.state_machine_arn))
}

/// DescribeStateMachine's answer for a registered machine.
pub fn describe_value(gateway: &Gateway, name: &str) -> Option<Value> {
    let stored = gateway.catalog.get(name)?;
    let mut answer = json!({
        "stateMachineArn": gateway.catalog.registry.arn(name),
        "name": name,
        "status": "ACTIVE",
        "definition": stored.entry.definition,
        "roleArn": stored.entry.role_arn,
        "type": stored.machine_type,
        "creationDate": epoch_seconds(stored.creation_date_ms.unwrap_or_default()),
        "loggingConfiguration": {
            "level": stored.entry.level.as_deref().unwrap_or("OFF"),
            "includeExecutionData": stored.entry.include_execution_data,
        },
        "tracingConfiguration": {"enabled": false},
    });
    if let Some(revision) = &stored.revision_id {
        answer["revisionId"] = revision.clone().into();
    }
    Some(answer)
}

/// UpdateStateMachine.
pub async fn update(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: UpdateInput = protocol::parse(body)?;
    let name = machine_name(&input.state_machine_arn)?.to_owned();
    if input.definition.is_none()
        && input.role_arn.is_none()
        && input.logging_configuration.is_none()
    {
        return Err(ApiError::Validation(
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified".into(),
        ));
    }
    if let Some(definition) = &input.definition {
        check_definition(definition, rules(gateway))?;
    }
    if let Some(logging) = &input.logging_configuration {
        check_logging(logging)?;
    }
    // The second look before the write lock, as in `create`.
    gateway.second_look(|| gateway.catalog.get(&name)).await;
    let _write = gateway.catalog.writes.lock().await;
    let mut stored = gateway
        .catalog
        .get(&name)
        .ok_or_else(|| does_not_exist(&input.state_machine_arn))?;
    if let Some(definition) = input.definition {
        stored.entry.definition = definition;
    }
    if let Some(role_arn) = input.role_arn {
        stored.entry.role_arn = role_arn;
    }
    if let Some(logging) = input.logging_configuration {
        stored.entry.level = logging.level;
        stored.entry.include_execution_data = logging.include_execution_data.unwrap_or(false);
    }
    let updated = now_ms();
    let revision = gateway.uuid();
    stored.update_date_ms = Some(updated);
    stored.revision_id = Some(revision.clone());
    write(gateway, stored).await?;
    Ok(protocol::ok(json!({
        "updateDate": epoch_seconds(updated),
        "revisionId": revision,
    })))
}

/// DeleteStateMachine: a tombstone. Deleting an unknown state machine succeeds, as at AWS.
pub async fn delete(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: ArnInput = protocol::parse(body)?;
    let name = machine_name(&input.state_machine_arn)?.to_owned();
    let _write = gateway.catalog.writes.lock().await;
    gateway
        .publisher
        .publish(Record {
            topic: gateway.config.registry_topic.clone(),
            key: name.clone(),
            payload: None,
            headers: Vec::new(),
        })
        .await
        .map_err(ApiError::Internal)?;
    gateway.catalog.remove(&name);
    Ok(protocol::ok(json!({})))
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) || text.is_empty() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// ListStateMachines: by name; `nextToken` is the last name of the previous page.
pub fn list(gateway: &Gateway, body: &[u8]) -> Result<Response, ApiError> {
    let input: ListInput = protocol::parse(body)?;
    let limit = match input.max_results {
        None | Some(0) => 100,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => {
            return Err(ApiError::Validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000 and greater than or equal to 0"
            )))
        }
    };
    let after = match input.next_token.as_deref() {
        None => None,
        Some(token) => Some(
            unhex(token)
                .ok_or_else(|| ApiError::InvalidToken(format!("Invalid Token: '{token}'")))?,
        ),
    };
    let (page, more) = gateway.catalog.page(after.as_deref(), limit);
    let machines: Vec<Value> = page
        .iter()
        .map(|e| {
            json!({
                "stateMachineArn": gateway.catalog.registry.arn(&e.entry.name),
                "name": e.entry.name,
                "type": e.machine_type,
                "creationDate": epoch_seconds(e.creation_date_ms.unwrap_or_default()),
            })
        })
        .collect();
    let mut answer = json!({ "stateMachines": machines });
    if more {
        if let Some(last) = page.last() {
            answer["nextToken"] = hex(&last.entry.name).into();
        }
    }
    Ok(protocol::ok(answer))
}

fn diagnostic_json(d: &Diagnostic) -> Value {
    let mut value = json!({
        "severity": d.severity.as_str(),
        "code": d.code.as_str(),
        "message": d.message,
    });
    if !d.location.is_empty() {
        value["location"] = d.location.clone().into();
    }
    value
}

/// ValidateStateMachineDefinition: AWS's diagnostics shape; `result` is FAIL when any
/// diagnostic is an error.
pub fn validate(body: &[u8]) -> Result<Response, ApiError> {
    let input: ValidateInput = protocol::parse(body)?;
    let machine_type = match input.machine_type.as_deref() {
        None | Some("STANDARD") => MachineType::Standard,
        Some("EXPRESS") => MachineType::Express,
        Some(other) => return Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ))),
    };
    let with_warnings = match input.severity.as_deref() {
        None | Some("ERROR") => false,
        Some("WARNING") => true,
        Some(other) => return Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'severity' failed to satisfy constraint: Member must satisfy enum value set: [ERROR, WARNING]"
        ))),
    };
    let limit = match input.max_results {
        None | Some(0) => 100,
        Some(n @ 1..=100) => n as usize,
        Some(n) => return Err(ApiError::Validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
        ))),
    };
    let diagnostics = validate::validate_text_for(&input.definition, machine_type);
    let failed = validate::has_errors(&diagnostics);
    let shown: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| with_warnings || d.severity == Severity::Error)
        .collect();
    let truncated = shown.len() > limit;
    let listed: Vec<Value> = shown.into_iter().take(limit).map(diagnostic_json).collect();
    Ok(protocol::ok(json!({
        "result": if failed { "FAIL" } else { "OK" },
        "diagnostics": listed,
        "truncated": truncated,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_state_machines() {
        assert_eq!(
            machine_name("arn:aws:states:local:000000000000:stateMachine:orders"),
            Ok("orders")
        );
        for bad in [
            "orders",
            "arn:aws:states:local:000000000000:execution:orders:x",
            "arn:aws:lambda:local:000000000000:stateMachine:orders",
            "arn:aws:states:local:000000000000:stateMachine:",
            "arn:aws:states:local:000000000000:stateMachine:a:b",
        ] {
            assert!(
                matches!(machine_name(bad), Err(ApiError::InvalidArn(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn validation_answers_carry_no_hint() {
        // `quickstep validate` prints the validator's hints; the API answers as AWS does.
        let definition =
            r#"{"StartAt": "A", "States": {"A": {"Type": "Teleport", "Next": "Nowhere"}}}"#;
        let diagnostics = validate::validate_text_for(definition, MachineType::Standard);
        assert!(
            diagnostics.iter().any(|d| d.hint.is_some()),
            "{diagnostics:?}"
        );
        for d in &diagnostics {
            let json = diagnostic_json(d);
            let mut keys: Vec<&str> = json
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(keys, ["code", "location", "message", "severity"], "{json}");
            assert!(!json.to_string().contains("hint"), "{json}");
            assert!(!json.to_string().contains("Teleport"), "{json}");
        }
        assert!(!validate::aws_message(&diagnostics).contains("Teleport"));
    }

    #[test]
    fn tokens_round_trip() {
        assert_eq!(unhex(&hex("orders-1")).as_deref(), Some("orders-1"));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }

    #[test]
    fn stored_entries_are_registry_entries() {
        let stored = StoredEntry {
            entry: RegistryEntry {
                name: "a".into(),
                definition: "{}".into(),
                role_arn: "r".into(),
                level: Some("ALL".into()),
                include_execution_data: true,
            },
            machine_type: express(),
            creation_date_ms: Some(5),
            update_date_ms: None,
            revision_id: None,
        };
        let text = serde_json::to_string(&stored).expect("renders");
        let entry: RegistryEntry = serde_json::from_str(&text).expect("a worker reads it");
        assert_eq!(entry, stored.entry);
        let back: StoredEntry = serde_json::from_str(&text).expect("round trip");
        assert_eq!(back, stored);
    }
}

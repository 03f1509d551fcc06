//! State machine revisions by name: loaded from a directory of `NAME.asl.json` files and
//! followed live on the compacted registry topic the gateway writes. Each revision is
//! validated and compiled once; executions take an `Arc` of the revision current at start.
//! Deleted revisions are kept a while (bounded), so a start accepted before its state
//! machine was deleted still runs, as on AWS.

use asl::history::Level;
use asl::validate::MachineType;
use asl::{DefinitionError, Machine};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// One compiled revision of a state machine.
#[derive(Debug)]
pub struct Revision {
    /// The state machine's name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The compiled definition.
    pub machine: Machine,
    /// The definition as written (DescribeStateMachine returns it).
    pub definition: String,
    /// Logging: which history events to export; `None` leaves it to the worker's setting.
    pub level: Option<Level>,
    /// Logging: whether events carry inputs and outputs.
    pub include_execution_data: bool,
    /// IAM role named at creation, shown as `$$.Execution.RoleArn`.
    pub role_arn: String,
}

/// A registry record's value (the key is the state machine name; a tombstone deletes it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    /// The state machine's name.
    pub name: String,
    /// The definition text.
    pub definition: String,
    /// The role ARN.
    #[serde(default)]
    pub role_arn: String,
    /// `ALL`, `ERROR`, `FATAL` or `OFF`; absent leaves it to the worker's setting.
    #[serde(default)]
    pub level: Option<String>,
    /// Whether history carries inputs and outputs.
    #[serde(default)]
    pub include_execution_data: bool,
}

/// Why a definition could not join the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A definition file could not be read.
    #[error("reading {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A definition is not JSON.
    #[error("{name}: the definition is not JSON: {error}")]
    NotJson {
        /// The state machine.
        name: String,
        /// The parser's message.
        error: serde_json::Error,
    },
    /// A definition fails validation.
    #[error("{name}: {error}")]
    Invalid {
        /// The state machine.
        name: String,
        /// The diagnostics.
        error: DefinitionError,
    },
}

/// Every known state machine, shared by all stages.
#[derive(Debug, Default)]
pub struct Registry {
    region: String,
    account: String,
    revisions: RwLock<HashMap<String, Arc<Revision>>>,
    /// Deleted revisions with the time of their deletion (epoch ms), oldest first.
    deleted: Mutex<VecDeque<(i64, Arc<Revision>)>>,
}

/// How many deleted revisions are remembered: deletions are rare, and a start record that
/// waited behind more than this many of them is refused as its machine no longer exists.
const DELETED_KEPT: usize = 1024;

impl Registry {
    /// An empty registry whose ARNs use `region` and `account`.
    pub fn new(region: &str, account: &str) -> Registry {
        Registry {
            region: region.to_owned(),
            account: account.to_owned(),
            revisions: RwLock::default(),
            deleted: Mutex::default(),
        }
    }

    /// The ARN of a state machine by name.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.region, self.account, name
        )
    }

    /// The ARN of an Express execution of a state machine.
    pub fn execution_arn(&self, state_machine: &str, execution: &str) -> String {
        // Joined into one allocation of the right size: this runs for every record.
        [
            "arn:aws:states:",
            &self.region,
            ":",
            &self.account,
            ":express:",
            state_machine,
            ":",
            execution,
        ]
        .concat()
    }

    /// Compiles and stores a revision; the previous one stays in use by running executions.
    pub fn apply(&self, entry: &RegistryEntry) -> Result<Arc<Revision>, RegistryError> {
        let value: Value =
            serde_json::from_str(&entry.definition).map_err(|error| RegistryError::NotJson {
                name: entry.name.clone(),
                error,
            })?;
        // Quickstep runs callbacks that AWS's Express validation refuses, so revisions are
        // checked with STANDARD rules (the gateway applies EXPRESS rules where AWS would).
        let machine = Machine::from_definition(&value, MachineType::Standard).map_err(|error| {
            RegistryError::Invalid {
                name: entry.name.clone(),
                error,
            }
        })?;
        let revision = Arc::new(Revision {
            name: entry.name.clone(),
            arn: self.arn(&entry.name),
            machine,
            definition: entry.definition.clone(),
            level: entry.level.as_deref().and_then(Level::parse),
            include_execution_data: entry.include_execution_data,
            role_arn: entry.role_arn.clone(),
        });
        self.revisions
            .write()
            .expect("registry lock is never poisoned")
            .insert(entry.name.clone(), revision.clone());
        Ok(revision)
    }

    /// Deletes a state machine (a registry tombstone written at `deleted_at_ms`). Its last
    /// revision is kept for starts accepted before the deletion (`get_as_of`).
    pub fn remove(&self, name: &str, deleted_at_ms: i64) {
        let removed = self
            .revisions
            .write()
            .expect("registry lock is never poisoned")
            .remove(name);
        if let Some(revision) = removed {
            // A queue of handles: a panic while it is held leaves it consistent.
            let mut deleted = self.deleted.lock().unwrap_or_else(PoisonError::into_inner);
            if deleted.len() == DELETED_KEPT {
                deleted.pop_front();
            }
            deleted.push_back((deleted_at_ms, revision));
        }
    }

    /// The revision a start accepted at `started_ms` runs: the current one, else — when the
    /// state machine was deleted after that start — the revision it had then. AWS runs an
    /// execution whose StartExecution was accepted even if its state machine is deleted
    /// before it begins; a start record may sit in a partition for a while.
    pub fn get_as_of(&self, name_or_arn: &str, started_ms: Option<i64>) -> Option<Arc<Revision>> {
        if let Some(revision) = self.get(name_or_arn) {
            return Some(revision);
        }
        let started_ms = started_ms?;
        let name = name_or_arn.rsplit(':').next().unwrap_or(name_or_arn);
        let deleted = self.deleted.lock().unwrap_or_else(PoisonError::into_inner);
        deleted
            .iter()
            .rev()
            .find(|(deleted_at_ms, revision)| revision.name == name && *deleted_at_ms > started_ms)
            .map(|(_, revision)| revision.clone())
    }

    /// The current revision, by name or ARN.
    pub fn get(&self, name_or_arn: &str) -> Option<Arc<Revision>> {
        let name = name_or_arn.rsplit(':').next().unwrap_or(name_or_arn);
        self.revisions
            .read()
            .expect("registry lock is never poisoned")
            .get(name)
            .cloned()
    }

    /// Every current revision, sorted by name.
    pub fn list(&self) -> Vec<Arc<Revision>> {
        let mut all: Vec<_> = self
            .revisions
            .read()
            .expect("registry lock is never poisoned")
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Loads every `NAME.asl.json` in `dir`. Returns the errors of files that could not be
    /// loaded; the others are registered.
    pub fn load_dir(&self, dir: &Path) -> Result<Vec<RegistryError>, RegistryError> {
        let entries = std::fs::read_dir(dir).map_err(|error| RegistryError::Read {
            path: dir.display().to_string(),
            error,
        })?;
        let mut errors = Vec::new();
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".asl.json"))
            else {
                continue;
            };
            let definition = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) => {
                    errors.push(RegistryError::Read {
                        path: path.display().to_string(),
                        error,
                    });
                    continue;
                }
            };
            let entry = RegistryEntry {
                name: name.to_owned(),
                definition,
                role_arn: String::new(),
                level: None,
                include_execution_data: false,
            };
            if let Err(error) = self.apply(&entry) {
                errors.push(error);
            }
        }
        Ok(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, definition: &str) -> RegistryEntry {
        RegistryEntry {
            name: name.into(),
            definition: definition.into(),
            role_arn: String::new(),
            level: Some("ALL".into()),
            include_execution_data: true,
        }
    }

    const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;

    #[test]
    fn applies_and_finds_by_name_or_arn() {
        let registry = Registry::new("local", "000000000000");
        registry.apply(&entry("orders", PASS)).expect("valid");
        assert!(registry.get("orders").is_some());
        assert!(registry
            .get("arn:aws:states:local:000000000000:stateMachine:orders")
            .is_some());
        assert!(registry.get("nope").is_none());
        assert_eq!(
            registry.get("orders").expect("present").level,
            Some(Level::All)
        );
    }

    #[test]
    fn invalid_definitions_are_refused_and_keep_the_old_revision() {
        let registry = Registry::new("local", "000000000000");
        registry.apply(&entry("orders", PASS)).expect("valid");
        assert!(matches!(
            registry.apply(&entry("orders", "{")),
            Err(RegistryError::NotJson { .. })
        ));
        assert!(matches!(
            registry.apply(&entry("orders", r#"{"StartAt":"X","States":{}}"#)),
            Err(RegistryError::Invalid { .. })
        ));
        assert!(
            registry.get("orders").is_some(),
            "the last good revision stays"
        );
        registry.remove("orders", 2_000);
        assert!(registry.get("orders").is_none());
    }

    #[test]
    fn a_start_accepted_before_a_deletion_runs_on_the_deleted_revision() {
        let registry = Registry::new("local", "000000000000");
        registry.apply(&entry("orders", PASS)).expect("valid");
        registry.remove("orders", 2_000);
        assert!(registry.get("orders").is_none(), "deleted for new starts");
        let revision = registry
            .get_as_of("orders", Some(1_999))
            .expect("started before");
        assert_eq!(revision.name, "orders");
        assert!(
            registry
                .get_as_of(
                    "arn:aws:states:local:000000000000:stateMachine:orders",
                    Some(1_500)
                )
                .is_some(),
            "by ARN too"
        );
        assert!(
            registry.get_as_of("orders", Some(2_000)).is_none(),
            "started after"
        );
        assert!(
            registry.get_as_of("orders", None).is_none(),
            "no start time: unknown"
        );
        assert!(registry.get_as_of("refunds", Some(0)).is_none());
        // Re-created: the live revision wins; deleted again: the newest deletion answers.
        registry.apply(&entry("orders", PASS)).expect("valid");
        assert!(registry.get_as_of("orders", Some(0)).is_some());
        registry.remove("orders", 3_000);
        assert!(registry.get_as_of("orders", Some(2_500)).is_some());
    }

    #[test]
    fn deleted_revisions_are_bounded() {
        let registry = Registry::new("local", "000000000000");
        for i in 0..(DELETED_KEPT as i64 + 1) {
            registry
                .apply(&entry(&format!("m{i}"), PASS))
                .expect("valid");
            registry.remove(&format!("m{i}"), 1_000 + i);
        }
        assert!(
            registry.get_as_of("m0", Some(0)).is_none(),
            "the oldest is forgotten"
        );
        assert!(registry.get_as_of("m1", Some(0)).is_some());
    }

    #[test]
    fn loads_a_directory_and_reports_bad_files() {
        let dir = std::env::temp_dir().join(format!("quickstep-registry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("good.asl.json"), PASS).expect("write");
        std::fs::write(dir.join("bad.asl.json"), "not json").expect("write");
        std::fs::write(dir.join("ignored.txt"), "x").expect("write");
        let registry = Registry::new("local", "000000000000");
        let errors = registry.load_dir(&dir).expect("readable");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("bad"));
        assert_eq!(registry.list().len(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! Runs every AWS-recorded execution in ../shared/conformance/localstack on a virtual clock
//! and checks the pass list against the ratchet file: a listed case that fails fails the
//! build. `QUICKSTEP_RATCHET=write cargo test -p asl --test tests conformance` rewrites it.

use crate::util::{corpus_files, remove_path, run_with, same, shared_dir, Function};
use asl::validate::MachineType;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The stand-in Lambda functions a case's `task_behaviour` describes.
pub fn functions_of(case: &Value) -> Vec<Function> {
    case.get("task_behaviour")
        .and_then(Value::as_object)
        .map(|fs| {
            fs.values()
                .map(|b| Function {
                    arn: b["function_arn"].as_str().unwrap_or_default().to_owned(),
                    behaviour: b.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The machine type the case was recorded on.
pub fn machine_type_of(case: &Value) -> MachineType {
    match case["provenance"]["state_machine_type"].as_str() {
        Some("EXPRESS") => MachineType::Express,
        _ => MachineType::Standard,
    }
}

/// Runs one case: `Ok` when it matches AWS, else why not.
fn check(case: &Value) -> Result<(), String> {
    let outcome = run_with(
        &case["definition"],
        case["input"].clone(),
        functions_of(case),
        machine_type_of(case),
    )?;
    let expected = &case["expected"];
    let mut want = serde_json::json!({"status": expected["status"]});
    let mut got = serde_json::json!({"status": outcome.status.as_str()});
    for key in ["output", "error", "cause"] {
        if let Some(v) = expected.get(key) {
            want[key] = v.clone();
        }
    }
    if let Some(output) = &outcome.output {
        got["output"] = output.clone();
    }
    if let Some(error) = &outcome.error {
        got["error"] = error.clone().into();
    }
    if let Some(cause) = &outcome.cause {
        got["cause"] = if expected["cause_is_parsed_json"] == true {
            serde_json::from_str(cause).unwrap_or_else(|_| cause.clone().into())
        } else {
            cause.clone().into()
        };
    }
    if expected["status"] == "SUCCEEDED" || outcome.output.is_some() {
        // Only a succeeded execution has an output to compare.
    } else {
        want.as_object_mut().expect("object").shift_remove("output");
    }
    for path in case["ignore_paths"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        remove_path(&mut want, path);
        remove_path(&mut got, path);
    }
    if same(&want, &got) {
        Ok(())
    } else {
        Err(format!("expected {want}\n      got      {got}"))
    }
}

#[test]
fn conformance_localstack() {
    let dir = shared_dir().join("conformance/localstack");
    let results = run_corpus(&dir, |_, case| check(case));
    enforce_ratchet("conformance", results);
}

/// Runs `check` on every case file (given its path) of `dir` (a panic is a failure, not an abort); returns
/// how many cases there were, the ids that pass, and the ids that fail with why.
pub fn run_corpus(
    dir: &Path,
    check: impl Fn(&Path, &Value) -> Result<(), String> + std::panic::RefUnwindSafe,
) -> CorpusResults {
    let files = corpus_files(dir);
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut passing = BTreeSet::new();
    let mut failures = Vec::new();
    for file in &files {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("readable case"))
                .expect("a case is JSON");
        let id = case["id"].as_str().expect("a case has an id").to_owned();
        let result = std::panic::catch_unwind(|| check(file, &case)).unwrap_or_else(|panic| {
            Err(format!(
                "PANIC {:?}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or(panic.downcast_ref::<&str>().copied())
            ))
        });
        match result {
            Ok(()) => {
                passing.insert(id);
            }
            Err(reason) => failures.push((id, reason)),
        }
    }
    std::panic::set_hook(previous_hook);
    CorpusResults {
        cases: files.len(),
        passing,
        failures,
    }
}

/// What one corpus run found.
pub struct CorpusResults {
    pub cases: usize,
    pub passing: BTreeSet<String>,
    pub failures: Vec<(String, String)>,
}

/// Fails if a case listed in `tests/ratchet/<name>.txt` fails; with `QUICKSTEP_RATCHET=write`
/// rewrites that list and `<name>-failures.txt` (each failing case with why).
pub fn enforce_ratchet(name: &str, results: CorpusResults) {
    let ratchet_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ratchet");
    let ratchet_file: PathBuf = ratchet_dir.join(format!("{name}.txt"));
    let failures_file: PathBuf = ratchet_dir.join(format!("{name}-failures.txt"));
    let CorpusResults {
        cases,
        passing,
        failures,
    } = results;
    let ratchet: BTreeSet<String> = std::fs::read_to_string(&ratchet_file)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let regressed: Vec<_> = failures
        .iter()
        .filter(|(id, _)| ratchet.contains(id))
        .collect();
    for (id, reason) in &regressed {
        eprintln!("REGRESSED {id}\n      {reason}");
    }
    let fresh: Vec<_> = passing.difference(&ratchet).collect();
    eprintln!(
        "{name}: {} of {} cases pass ({} in the ratchet, {} newly passing)",
        passing.len(),
        cases,
        ratchet.len(),
        fresh.len()
    );
    if std::env::var("QUICKSTEP_RATCHET").as_deref() == Ok("write") {
        let title = name[..1].to_uppercase() + &name[1..];
        let mut text =
            format!("# {title} cases that pass; the build fails if one of them stops passing.\n");
        passing.iter().for_each(|id| {
            text.push_str(id);
            text.push('\n');
        });
        std::fs::create_dir_all(&ratchet_dir).expect("ratchet dir");
        std::fs::write(&ratchet_file, text).expect("write ratchet");
        let mut text = format!("# {title} cases that fail, with expected vs got (generated).\n");
        for (id, reason) in &failures {
            text.push_str(&format!(
                "{id}\n      {}\n",
                reason.replace('\n', "\n      ")
            ));
        }
        std::fs::write(&failures_file, text).expect("write failures");
    } else if std::env::var("QUICKSTEP_CONFORMANCE_VERBOSE").is_ok() {
        for (id, reason) in &failures {
            eprintln!("FAIL {id}\n      {reason}");
        }
    }
    assert!(
        regressed.is_empty(),
        "{} ratcheted {name} cases regressed",
        regressed.len()
    );
}

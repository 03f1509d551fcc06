//! The JSONata reference test suite (jsonata-js v2.0.6, ../shared/jsonata/test-suite) run
//! through the evaluator exactly as Quickstep's states configure it: Step Functions'
//! functions registered, `$eval` removed, the engine's limits unless a case sets its own.
//!
//! Known failures are listed with their reasons in tests/ratchet/jsonata-suite.txt; a case
//! that fails without being listed fails the build, and so does a listed case that passes
//! (take it off the list). At least 99% of the suite must pass.
//! Ported from the survey harness that chose the evaluator (/work/jsonata-survey).

use crate::util::shared_dir;
use asl::interpret::SplitMix64;
use asl::jsonata::{evaluate, EvaluationError, Limits};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
enum Expect {
    Result(Value),
    Undefined,
    Code(String),
}

#[derive(Debug, Clone)]
struct Case {
    id: String,
    expr: String,
    input: Option<Value>,
    bindings: Map<String, Value>,
    timelimit_ms: Option<u64>,
    depth: Option<usize>,
    expect: Expect,
    unordered: bool,
    /// Uses `$eval`, which Step Functions removes: it must fail instead.
    uses_eval: bool,
}

fn ratchet_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ratchet/jsonata-suite.txt")
}

/// Every case under `groups/*/*.json` (a file may hold an array of cases), in a stable
/// order; cases that cannot load (a lone surrogate no Rust string holds) come back as errors.
fn load(suite: &Path) -> (Vec<Case>, Vec<(String, String)>) {
    let mut cases = Vec::new();
    let mut unloadable = Vec::new();
    let mut datasets: HashMap<String, Value> = HashMap::new();
    let mut groups: Vec<PathBuf> = std::fs::read_dir(suite.join("groups"))
        .unwrap_or_else(|e| panic!("the JSONata suite at {}: {e}", suite.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    groups.sort();
    for dir in groups {
        let group = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            let id = format!("{group}/{}", file.file_stem().unwrap().to_string_lossy());
            let text = std::fs::read_to_string(&file).unwrap();
            let doc: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    unloadable.push((id, format!("not loadable as JSON text: {e}")));
                    continue;
                }
            };
            let list = match doc {
                Value::Array(items) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| (format!("{id}[{i}]"), c))
                    .collect(),
                other => vec![(id, other)],
            };
            for (id, case) in list {
                match to_case(suite, &dir, &group, id.clone(), case, &mut datasets) {
                    Ok(case) => cases.push(case),
                    Err(reason) => unloadable.push((id, reason)),
                }
            }
        }
    }
    (cases, unloadable)
}

fn to_case(
    suite: &Path,
    dir: &Path,
    group: &str,
    id: String,
    case: Value,
    datasets: &mut HashMap<String, Value>,
) -> Result<Case, String> {
    let Value::Object(mut o) = case else {
        return Err("a case is not an object".into());
    };
    let expr = match (o.get("expr"), o.get("expr-file")) {
        (Some(Value::String(s)), _) => s.clone(),
        (_, Some(Value::String(f))) => {
            std::fs::read_to_string(dir.join(f)).map_err(|e| format!("expr-file {f}: {e}"))?
        }
        _ => return Err("no expr".into()),
    };
    // As the jsonata-js runner: `data` (null is JSON null), else the named dataset, else none.
    let input = if let Some(data) = o.remove("data") {
        Some(data)
    } else if let Some(Value::String(name)) = o.get("dataset") {
        if !datasets.contains_key(name) {
            let path = suite.join("datasets").join(format!("{name}.json"));
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
            let value = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
            datasets.insert(name.clone(), value);
        }
        Some(datasets[name].clone())
    } else {
        None
    };
    let bindings = match o.remove("bindings") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let expect = if o.get("undefinedResult") == Some(&Value::Bool(true)) {
        Expect::Undefined
    } else if let Some(result) = o.remove("result") {
        Expect::Result(result)
    } else if let Some(Value::String(code)) = o.get("code") {
        Expect::Code(code.clone())
    } else if let Some(Value::String(code)) = o.get("error").and_then(|e| e.get("code")) {
        Expect::Code(code.clone())
    } else {
        return Err("nothing to check (no result, undefinedResult or code)".into());
    };
    Ok(Case {
        uses_eval: group == "function-eval" || expr.contains("$eval"),
        id,
        expr,
        input,
        bindings,
        timelimit_ms: o.get("timelimit").and_then(Value::as_u64),
        depth: o.get("depth").and_then(Value::as_u64).map(|d| d as usize),
        expect,
        unordered: o.get("unordered") == Some(&Value::Bool(true)),
    })
}

/// chai's deep.equal, as the suite compares: numbers as f64, object key order ignored.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// A top-level array compared as a multiset (`"unordered": true`).
fn equal_unordered(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            let mut used = vec![false; y.len()];
            x.iter().all(|p| {
                let found = (0..y.len()).find(|&i| !used[i] && equal(p, &y[i]));
                found.map(|i| used[i] = true).is_some()
            })
        }
        _ => equal(a, b),
    }
}

type Got = Result<Option<Value>, EvaluationError>;

/// A case without its own `timelimit` tests semantics, not speed: give it far more than
/// Quickstep's per-expression limit, so a loaded machine or a debug build cannot fail it.
const UNTIMED_CASE_MS: u64 = 60_000;

fn run(case: &Case) -> Got {
    let limits = Limits {
        timeout_ms: case.timelimit_ms.unwrap_or(UNTIMED_CASE_MS),
        max_depth: case.depth.unwrap_or(Limits::default().max_depth),
    };
    evaluate(
        &case.expr,
        case.input.as_ref(),
        &case.bindings,
        limits,
        &SplitMix64::new(7),
    )
}

fn passes(case: &Case, got: &Got) -> bool {
    match (&case.expect, got) {
        (Expect::Result(want), Ok(Some(value))) if case.unordered => equal_unordered(want, value),
        (Expect::Result(want), Ok(Some(value))) => equal(want, value),
        (Expect::Undefined, Ok(None)) => true,
        (Expect::Code(code), Err(e)) => e.code.as_deref() == Some(code.as_str()),
        _ => false,
    }
}

fn describe(got: &Got) -> String {
    let text = match got {
        Ok(Some(v)) => v.to_string(),
        Ok(None) => "undefined".into(),
        Err(e) => format!("error {:?}: {}", e.code, e.message),
    };
    text.chars().take(200).collect()
}

#[test]
fn jsonata_reference_suite() {
    // Deep recursion cases grow the stack on the heap (stacker); a roomy thread anyway.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(suite)
        .expect("spawn")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

fn suite() {
    let dir = shared_dir().join("jsonata/test-suite");
    let (cases, unloadable) = load(&dir);
    // A suite that is present but empty must fail, not pass having checked nothing.
    assert!(
        !cases.is_empty(),
        "the JSONata suite at {} holds no case",
        dir.display()
    );
    let known: BTreeMap<String, String> = std::fs::read_to_string(ratchet_file())
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(" # ") {
            Some((id, reason)) => (id.trim().to_owned(), reason.trim().to_owned()),
            None => (l.trim().to_owned(), String::new()),
        })
        .collect();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (mut passed, mut total, mut eval_removed) = (0usize, 0usize, 0usize);
    let mut failures: Vec<(String, String)> = unloadable.clone();
    for case in &cases {
        let got = std::panic::catch_unwind(|| run(case)).unwrap_or_else(|_| {
            Err(EvaluationError {
                code: None,
                message: "PANIC".into(),
            })
        });
        if case.uses_eval {
            // Step Functions removes `$eval`: every use must fail (T1006).
            let removed = matches!(&got, Err(e) if e.code.as_deref() == Some("T1006"));
            if removed || passes(case, &got) {
                eval_removed += 1;
            } else {
                failures.push((
                    case.id.clone(),
                    format!("$eval did not fail: {}", describe(&got)),
                ));
            }
            continue;
        }
        total += 1;
        if passes(case, &got) {
            passed += 1;
        } else {
            failures.push((
                case.id.clone(),
                format!("expected {:?}, got {}", case.expect, describe(&got)),
            ));
        }
    }
    std::panic::set_hook(previous_hook);
    total += unloadable.len();
    let unexpected: Vec<_> = failures
        .iter()
        .filter(|(id, _)| !known.contains_key(id))
        .collect();
    let failed: Vec<&String> = failures.iter().map(|(id, _)| id).collect();
    let stale: Vec<_> = known.keys().filter(|id| !failed.contains(id)).collect();
    eprintln!(
        "JSONata suite: {passed} of {total} pass ({:.2}%); {eval_removed} $eval cases fail as removed; {} known failures",
        passed as f64 * 100.0 / total as f64,
        known.len()
    );
    for (id, reason) in &failures {
        let why = known.get(id).map(String::as_str).unwrap_or("NOT LISTED");
        eprintln!("  {id}: {why}\n      {reason}");
    }
    assert!(
        unexpected.is_empty(),
        "failures not in tests/ratchet/jsonata-suite.txt: {unexpected:#?}"
    );
    assert!(
        stale.is_empty(),
        "listed as failing but pass now (take them off the list): {stale:?}"
    );
    assert!(
        passed * 100 >= total * 99,
        "{passed} of {total} is under 99%"
    );
}

//! Test support shared by the conformance harnesses of `asl`, `worker` and `gateway`: where
//! the AWS-recorded corpora live, and JSON comparison as the corpus README defines it (numbers
//! as numbers, `ignore_paths` removed). Test-only: no crate depends on it outside dev.

#![forbid(unsafe_code)]

use serde_json::Value;

/// The shared corpora: `QUICKSTEP_SHARED`, else `shared/` beside the checkout.
pub fn shared_dir() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("QUICKSTEP_SHARED") {
        return dir.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Numbers compare as numbers (1 == 1.0); everything else structurally.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The steps of a recorded case's path (`$.a.b[0]['c']` → `a`, `b`, `0`, `c`): enough
/// JSONPath for `ignore_paths` and the TestState field names.
pub fn path_steps(path: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let mut rest = path.strip_prefix('$').unwrap_or(path);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").unwrap_or(r.len());
            steps.push(r[..end].to_owned());
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            steps.push(r[..end].to_owned());
            rest = r.get(end + 1..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            steps.push(r[..end].to_owned());
            rest = &r[end..];
        } else {
            break;
        }
    }
    steps
}

/// Removes the node an `ignore_paths` entry names (`$.output.a[0]`, `$.cause`).
pub fn remove_path(root: &mut Value, path: &str) {
    let steps = path_steps(path);
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    let mut node = root;
    for step in parents {
        node = match node {
            Value::Object(map) => match map.get_mut(step) {
                Some(next) => next,
                None => return,
            },
            Value::Array(items) => {
                match step.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(next) => next,
                    None => return,
                }
            }
            _ => return,
        };
    }
    match node {
        Value::Object(map) => {
            map.shift_remove(last);
        }
        Value::Array(items) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < items.len() {
                    items[i] = Value::Null;
                }
            }
        }
        _ => {}
    }
}

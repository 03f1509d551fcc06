//! Arbitrary text as a JSONPath: parse it, then select from and assign into a fixed
//! document. Parsing may refuse; nothing may panic.
#![no_main]

use asl::path::Path;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::OnceLock;

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        json!({
            "store": {
                "book": [
                    {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                    {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99, "isbn": "0-553"},
                    {"category": "fiction", "author": "Tolkien", "title": "LOTR", "price": 22.99, "tags": ["a", "b"]}
                ],
                "bicycle": {"color": "red", "price": 19.95}
            },
            "a": [0, 1, 2, 3, 4, 5, -1, 1e300, null, true, "x", [], {}],
            "k": {"a.b": 1, "with space": 2, "'quoted'": 3, "": 4, "unicodé": 5},
            "n": {"deep": {"deeper": {"deepest": [ {"x": 1} ]}}},
            "count": 3
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Path::parse_prefix(text);
    let Ok(path) = Path::parse(text) else {
        return;
    };
    let _ = path.as_str();
    let _ = path.render_jayway();
    let _ = (path.is_definite(), path.is_reference(), path.root());
    if let Err(missing) = path.select(document()) {
        let _ = missing.message();
    }
    let mut target = document().clone();
    if let Err(missing) = path.assign(&mut target, json!({"assigned": true})) {
        let _ = missing.message();
    }
    let mut empty = json!({});
    let _ = path.assign(&mut empty, json!(1));
});

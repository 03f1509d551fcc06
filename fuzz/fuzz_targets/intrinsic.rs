//! Arbitrary text as an intrinsic call: parse it, then evaluate it with paths resolved
//! against a fixed document. Parsing and evaluation may fail; nothing may panic.
#![no_main]

use asl::intrinsics::{Call, IntrinsicEnv};
use asl::path::Path;
use asl::{ErrorName, StatesError};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

struct Env {
    input: Value,
    next: u64,
}

impl IntrinsicEnv for Env {
    fn resolve(&self, path: &Path) -> Result<Value, StatesError> {
        path.select(&self.input)
            .map(|value| value.into_owned())
            .map_err(|missing| StatesError::new(ErrorName::ParameterPathFailure, missing.message()))
    }

    fn random_u64(&mut self) -> u64 {
        self.next = self
            .next
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.next
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = asl::intrinsics::looks_like_call(text);
    let Ok(call) = Call::parse(text) else {
        return;
    };
    let _ = (call.name(), call.args());
    let mut env = Env {
        input: json!({
            "id": 42, "amount": 250.5, "name": "order", "flag": true, "none": null,
            "items": [1, 2, 3, "x", {"y": [1]}], "nums": [3, 1, 2, 3],
            "text": "a,b,,c", "json": "{\"a\":[1,2]}", "b64": "aGVsbG8=",
            "obj": {"a": 1, "b": {"c": 2}}, "big": 9007199254740993_u64, "neg": -5
        }),
        next: 1,
    };
    let _ = call.eval(&mut env);
});

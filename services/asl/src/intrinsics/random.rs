//! Randomness through `IntrinsicEnv`: `States.MathRandom` (Java's `Random`, as AWS's
//! runtime is Java) and `States.UUID`.

use super::args::want_int;
use super::{Call, IntrinsicEnv};
use crate::error::StatesError;
use serde_json::Value;

pub(super) fn math_random(
    call: &Call,
    args: Vec<Value>,
    env: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let start = want_int(call, &args[0], "the start", true)?;
    let end = want_int(call, &args[1], "the end", true)?;
    if start >= end {
        return Err(call.fail(format!(
            "the start ({start}) must be less than the end ({end})"
        )));
    }
    // Start inclusive, end exclusive (the AWS page).
    let span = (i128::from(end) - i128::from(start)) as u64;
    let offset = match args.get(2) {
        Some(seed) => JavaRandom::new(want_int(call, seed, "the seed", true)?).below(span),
        None => env.random_u64() % span,
    };
    Ok(Value::from((i128::from(start) + i128::from(offset)) as i64))
}

/// `java.util.Random`: AWS's runtime is Java, so a seeded `States.MathRandom` most plausibly
/// computes `start + new Random(seed).nextInt(end - start)`. We reproduce that exactly for
/// spans that fit a Java `int`; wider spans (beyond what a Java `int` API could take) use
/// `nextLong()` modulo the span.
pub(super) struct JavaRandom(u64);

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    pub(super) fn new(seed: i64) -> Self {
        JavaRandom((seed as u64 ^ Self::MULTIPLIER) & Self::MASK)
    }

    pub(super) fn next(&mut self, bits: u32) -> i32 {
        self.0 = (self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.0 >> (48 - bits)) as i64 as i32
    }

    /// `nextInt(bound)` for `bound` ≤ `i32::MAX`, else `nextLong()` reduced modulo `bound`.
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        let Ok(bound) = i32::try_from(bound) else {
            let high = i64::from(self.next(32)) << 32;
            let long = high.wrapping_add(i64::from(self.next(32)));
            return (long as u64) % bound;
        };
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as u64;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r as u64;
            }
            u = self.next(31);
        }
    }
}

pub(super) fn uuid(
    _: &Call,
    _: Vec<Value>,
    env: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&env.random_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&env.random_u64().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Value::String(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )))
}

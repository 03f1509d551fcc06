//! Arithmetic: `States.MathAdd`, on Java `int`s as the AWS page says.

use super::args::want_int;
use super::{Call, IntrinsicEnv};
use crate::error::StatesError;
use serde_json::{Number, Value};

/// `States.MathAdd` takes integers in the range of Java's `int` (the AWS page), rounding
/// non-integers to the nearest integer.
pub(super) fn math_add(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let mut sum = 0i64;
    for (value, what) in args
        .iter()
        .zip(["the first argument", "the second argument"])
    {
        let n = want_int(call, value, what, true)?;
        if i32::try_from(n).is_err() {
            return Err(call.fail(format!(
                "{what} ({n}) is outside the range -2147483648 to 2147483647"
            )));
        }
        sum += n;
    }
    Ok(Value::Number(Number::from(sum)))
}

//! The `States.Array*` family: `Array`, `ArrayPartition`, `ArrayContains`, `ArrayRange`,
//! `ArrayGetItem`, `ArrayLength`, `ArrayUnique`.

use super::args::{identity_of, want_array, want_int};
use super::{Call, IntrinsicEnv, MAX_RANGE_ITEMS};
use crate::error::StatesError;
use serde_json::Value;
use std::collections::HashSet;

pub(super) fn array(
    _: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    Ok(Value::Array(args))
}

pub(super) fn array_partition(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let size = want_int(call, &args[1], "the chunk size", true)?;
    if size <= 0 {
        return Err(call.fail(format!(
            "the chunk size must be a positive integer, not {size}"
        )));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|chunk| Value::Array(chunk.to_vec()))
            .collect(),
    ))
}

pub(super) fn array_contains(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let wanted = identity_of(&args[1]);
    Ok(Value::Bool(
        items.iter().any(|item| identity_of(item) == wanted),
    ))
}

pub(super) fn array_range(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let start = want_int(call, &args[0], "the start", true)?;
    let end = want_int(call, &args[1], "the end", true)?;
    let step = want_int(call, &args[2], "the step", true)?;
    if step == 0 {
        return Err(call.fail("the step must not be zero"));
    }
    // Both ends are inclusive (`ArrayRange(1, 9, 2)` is `[1,3,5,7,9]`, the AWS page). Count
    // first, in i128, so a huge range fails without being built.
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    let count = if (step > 0 && end >= start) || (step < 0 && end <= start) {
        (end - start) / step + 1
    } else {
        0
    };
    if count > MAX_RANGE_ITEMS {
        return Err(call.fail(format!(
            "the range has {count} items, more than the {MAX_RANGE_ITEMS} allowed"
        )));
    }
    // Every item lies between start and end, so it fits in i64.
    Ok(Value::Array(
        (0..count)
            .map(|i| Value::from((start + i * step) as i64))
            .collect(),
    ))
}

pub(super) fn array_get_item(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    let items = want_array(call, &args[0], "the first argument")?;
    let index = want_int(call, &args[1], "the index", false)?;
    usize::try_from(index)
        .ok()
        .and_then(|i| items.get(i))
        .cloned()
        .ok_or_else(|| {
            call.fail(format!(
                "index {index} is out of bounds for an array of {} item(s)",
                items.len()
            ))
        })
}

pub(super) fn array_length(
    call: &Call,
    args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    Ok(Value::from(
        want_array(call, &args[0], "the argument")?.len(),
    ))
}

pub(super) fn array_unique(
    call: &Call,
    mut args: Vec<Value>,
    _: &mut dyn IntrinsicEnv,
) -> Result<Value, StatesError> {
    want_array(call, &args[0], "the argument")?;
    let Value::Array(items) = args.swap_remove(0) else {
        unreachable!("checked above")
    };
    // Keeps the first of each run of equal values, in order.
    let mut seen = HashSet::new();
    Ok(Value::Array(
        items
            .into_iter()
            .filter(|item| seen.insert(identity_of(item)))
            .collect(),
    ))
}

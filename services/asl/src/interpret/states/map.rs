//! The Map state's work: items, ItemSelector and ItemBatcher, bounded concurrency,
//! tolerated failures and the iteration history events.

use super::super::compile::{Count, MapMode, MapState, State};
use super::super::data_flow::{display_raw, float, integer};
use super::super::run::{failure_details, Run, StateContext};
use super::super::scope::{Scope, Vars};
use super::super::size::json_size;
use super::super::PAYLOAD_LIMIT_BYTES;
use crate::error::{ErrorName, StatesError};
use crate::history::HistoryEventType as Event;
use futures::stream::{self, StreamExt};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

impl<'a> Run<'a> {
    pub(crate) async fn map(
        &self,
        map: &MapState,
        state: &State,
        input: &Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        let scope = Scope {
            run: self,
            input,
            vars,
            state: context,
        };
        let items = match (&map.items, &map.items_path) {
            (Some(tree), _) => {
                let items = scope.jsonata(None, None, |s| {
                    let items = s.build(tree)?;
                    match (tree.as_expr(), &items) {
                        (Some(expr), value) if !value.is_array() => {
                            Err(s.unexpected(expr, "Items", "array", value))
                        }
                        _ => Ok(items),
                    }
                })?;
                Cow::Owned(items)
            }
            (None, None) if state.jsonata.is_some() && !input.is_array() => {
                return Err(StatesError::new(
                    ErrorName::QueryEvaluationError,
                    scope
                        .runtime(format!("Map state input must be an array but was: {input}"))
                        .cause
                        .unwrap_or_default(),
                ));
            }
            (None, None) => Cow::Borrowed(input),
            (None, Some(path)) => scope.select(path).map_err(|_| {
                scope.runtime(format!(
                    "Invalid path '{}' : No results for path: {}",
                    path.as_str(),
                    path.render_jayway()
                ))
            })?,
        };
        let Value::Array(items) = items.as_ref() else {
            return Err(scope.runtime(format!(
                "Item reader result is not an array: {}",
                items.as_ref()
            )));
        };
        let max_concurrency = match &map.max_concurrency {
            None => 0,
            Some(count) => {
                let value = self.count(count, &scope, "MaxConcurrency")?;
                match integer(&value) {
                    Some(n) if n >= 0 => n as usize,
                    _ => {
                        let Count::Path(path) = count else {
                            return Err(
                                scope.runtime("MaxConcurrency must be a non-negative integer.")
                            );
                        };
                        return Err(scope.runtime(format!(
                            "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {}",
                            display_raw(&value),
                            path.as_str()
                        )));
                    }
                }
            }
        };
        let (tolerated_count, tolerated_percentage) = self.tolerance(map, &scope)?;
        // Each item's input: ItemSelector with `$$.Map.Item`, or the item itself.
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let item_input = match (&map.item_selector, &map.jsonata_item_selector) {
                (None, None) => item.clone(),
                (_, Some(selector)) => {
                    let item_context = StateContext {
                        map_item: Some((index, item)),
                        task_token: None,
                        ..*context
                    };
                    Scope {
                        run: self,
                        input,
                        vars,
                        state: &item_context,
                    }
                    .jsonata(None, None, |s| s.build(selector))?
                }
                (Some(selector), None) => {
                    let item_context = StateContext {
                        name: context.name,
                        entered_event_id: context.entered_event_id,
                        entered_time_ms: context.entered_time_ms,
                        retry_count: context.retry_count,
                        retriable: context.retriable,
                        task_token: None,
                        map_item: Some((index, item)),
                    };
                    Scope {
                        run: self,
                        input,
                        vars,
                        state: &item_context,
                    }
                    .build(selector)?
                }
            };
            inputs.push(item_input);
        }
        if let Some(batcher) = &map.batcher {
            inputs = self.batch(batcher, inputs, &scope)?;
        }
        let started = self.event(
            context.entered_event_id,
            Event::MapStateStarted,
            || json!({"length": inputs.len()}),
        );
        let outer = Arc::new(vars.clone());
        let limit = if max_concurrency == 0 {
            inputs.len().max(1)
        } else {
            max_concurrency
        };
        let total = inputs.len();
        let iterations = inputs.into_iter().enumerate().map(|(index, item_input)| {
            let outer = &outer;
            async move {
                let id = self.event(
                    started,
                    Event::MapIterationStarted,
                    || json!({"index": index, "name": state.name}),
                );
                let result = self
                    .run_branch(&map.processor, item_input, Vars::inner(outer), id)
                    .await;
                match &result {
                    Ok(_) => self.event(
                        self.last_event(),
                        Event::MapIterationSucceeded,
                        || json!({"index": index, "name": state.name}),
                    ),
                    Err(error) => self.event(self.last_event(), Event::MapIterationFailed, || {
                        let mut details = failure_details(error);
                        details["index"] = json!(index);
                        details
                    }),
                };
                result.map(|(output, _)| output)
            }
        });
        let mut results = stream::iter(iterations).buffered(limit);
        let mut outputs = Vec::with_capacity(total);
        let mut failures = 0usize;
        while let Some(result) = results.next().await {
            match result {
                Ok(output) => outputs.push(output),
                Err(error) if map.mode == MapMode::Inline => {
                    self.event(self.last_event(), Event::MapStateFailed, || {
                        failure_details(&error)
                    });
                    return Err(error);
                }
                Err(error) => {
                    failures += 1;
                    let over_count = failures as f64 > tolerated_count;
                    let over_percentage =
                        (failures as f64) * 100.0 / (total.max(1) as f64) > tolerated_percentage;
                    // Either threshold, once exceeded, fails the Map Run; an unset one is
                    // infinite (AWS DescribeMapRun: ToleratedFailureCount is "the maximum
                    // number of failed items before the Map Run fails").
                    if over_count || over_percentage {
                        drop(error);
                        let error = StatesError::new(
                            ErrorName::ExceedToleratedFailureThreshold,
                            "The specified tolerated failure threshold was exceeded",
                        );
                        self.event(self.last_event(), Event::MapStateFailed, || {
                            failure_details(&error)
                        });
                        return Err(error);
                    }
                    outputs.push(error.to_output());
                }
            }
        }
        self.event(self.last_event(), Event::MapStateSucceeded, || json!({}));
        Ok(Value::Array(outputs))
    }

    /// `ToleratedFailureCount(Path)` and `ToleratedFailurePercentage(Path)`, checked as AWS does.
    pub(crate) fn tolerance(
        &self,
        map: &MapState,
        scope: &Scope<'_>,
    ) -> Result<(f64, f64), StatesError> {
        let count = match &map.tolerated_failure_count {
            None => 0.0,
            Some(count) => {
                let value = self.count(count, scope, "ToleratedFailureCount")?;
                match integer(&value) {
                    Some(n) if n < 0 => return Err(scope.runtime("ToleratedFailureCount cannot be negative.")),
                    Some(n) => n as f64,
                    None => {
                        return Err(scope.runtime(match count {
                            Count::Path(path) => format!(
                                "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {}",
                                display_raw(&value),
                                path.as_str()
                            ),
                            Count::Literal(_) | Count::Expr(_) => "ToleratedFailureCount must be an integer.".to_owned(),
                        }))
                    }
                }
            }
        };
        let percentage = match &map.tolerated_failure_percentage {
            None => 0.0,
            Some(count) => {
                let value = self.count(count, scope, "ToleratedFailurePercentage")?;
                match float(&value) {
                    Some(p) if !(0.0..=100.0).contains(&p) => {
                        return Err(scope.runtime("ToleratedFailurePercentage must be between 0 and 100."))
                    }
                    Some(p) => p,
                    None => {
                        return Err(scope.runtime(match count {
                            Count::Path(path) => format!(
                                "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {}",
                                display_raw(&value),
                                path.as_str()
                            ),
                            Count::Literal(_) | Count::Expr(_) => "ToleratedFailurePercentage must be a number.".to_owned(),
                        }))
                    }
                }
            }
        };
        // With neither set, a distributed Map tolerates no failure; with one set, only it counts.
        Ok(
            match (
                &map.tolerated_failure_count,
                &map.tolerated_failure_percentage,
            ) {
                (Some(_), None) => (count, f64::INFINITY),
                (None, Some(_)) => (f64::INFINITY, percentage),
                _ => (count, percentage),
            },
        )
    }

    pub(crate) fn batch(
        &self,
        batcher: &crate::interpret::compile::ItemBatcher,
        items: Vec<Value>,
        scope: &Scope<'_>,
    ) -> Result<Vec<Value>, StatesError> {
        let max_items = match &batcher.max_items {
            None => usize::MAX,
            Some(count) => self
                .count(count, scope, "MaxItemsPerBatch")?
                .as_u64()
                .unwrap_or(u64::MAX)
                .max(1) as usize,
        };
        let max_bytes = match &batcher.max_input_bytes {
            None => PAYLOAD_LIMIT_BYTES,
            Some(count) => self
                .count(count, scope, "MaxInputBytesPerBatch")?
                .as_u64()
                .unwrap_or(0)
                .max(1) as usize,
        };
        let batch_input = batcher
            .batch_input
            .as_ref()
            .map(|t| scope.build(t))
            .transpose()?;
        let mut batches = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut bytes = 0;
        for item in items {
            let size = json_size(&item);
            if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
                batches.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(item);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        Ok(batches
            .into_iter()
            .map(|items| {
                let mut map = Map::new();
                if let Some(input) = &batch_input {
                    map.insert("BatchInput".into(), input.clone());
                }
                map.insert("Items".into(), Value::Array(items));
                Value::Object(map)
            })
            .collect())
    }
}

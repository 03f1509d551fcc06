//! The Map state's work: items, ItemSelector and ItemBatcher, bounded concurrency,
//! tolerated failures and the iteration history events.

use super::super::compile::{Count, MapMode, MapState, State};
use super::super::data_flow::{display_raw, float, integer};
use super::super::run::{failure_details, Links, Run, StateContext};
use super::super::scope::{Scope, Vars};
use super::super::size::json_size;
use super::super::PAYLOAD_LIMIT_BYTES;
use crate::error::{ErrorName, StatesError};
use crate::history::HistoryEventType as Event;
use futures::stream::{self, StreamExt};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
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
        if let Some(test) = self.tested(state) {
            if let Some(mock) = &test.mock {
                return self.mocked_map(map, &scope, test, mock.clone());
            }
        }
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
                return Err(scope.evaluation_failed(
                    "Items",
                    format!("Map state input must be an array but was: {input}"),
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
        let max_concurrency = self.max_concurrency(map, &scope)?;
        let mut inputs = self.item_inputs(map, items, &scope)?;
        if let Some(batcher) = &map.batcher {
            inputs = self.batch(batcher, inputs, &scope)?;
        }
        let started = self.event(
            context.attempt_after,
            Event::MapStateStarted,
            || json!({"length": inputs.len()}),
        );
        // AWS checks the tolerated failures once the Map has started (its recorded
        // histories hold MapStateStarted before the failure).
        let (tolerated_count, tolerated_percentage) = self.tolerance(map, &scope)?;
        let outer = Arc::new(vars.clone());
        let limit = if max_concurrency == 0 {
            inputs.len().max(1)
        } else {
            max_concurrency
        };
        let total = inputs.len();
        if map.mode == MapMode::Distributed {
            return self
                .map_run(
                    map,
                    inputs,
                    &outer,
                    limit,
                    started,
                    (tolerated_count, tolerated_percentage),
                )
                .await;
        }
        // An iteration's MapIterationStarted follows the last event of the iteration that
        // ended before it started (MapStateStarted for the first ones), as AWS links them.
        let iteration_after = AtomicU64::new(started);
        let iterations = inputs.into_iter().enumerate().map(|(index, item_input)| {
            let (outer, iteration_after) = (&outer, &iteration_after);
            async move {
                let id = self.event(
                    iteration_after.load(Ordering::Relaxed),
                    Event::MapIterationStarted,
                    || json!({"index": index, "name": state.name}),
                );
                let result = self
                    .run_branch(&map.processor, item_input, Vars::inner(outer), id, false)
                    .await;
                match result {
                    Ok((output, last)) => {
                        iteration_after.store(last, Ordering::Relaxed);
                        self.event(
                            last,
                            Event::MapIterationSucceeded,
                            || json!({"index": index, "name": state.name}),
                        );
                        Ok(output)
                    }
                    Err(error) => {
                        // Its MapStateFailed (or the Map's retry) follows the iteration's
                        // last event too.
                        let last = self.last_event();
                        self.event(last, Event::MapIterationFailed, || {
                            let mut details = failure_details(&error);
                            details["index"] = json!(index);
                            details["name"] = json!(state.name);
                            details
                        });
                        self.links.failed_after.store(last, Ordering::Relaxed);
                        Err(error)
                    }
                }
            }
        });
        let mut results = stream::iter(iterations).buffered(limit);
        let mut outputs = Vec::with_capacity(total);
        while let Some(result) = results.next().await {
            outputs.push(result?);
        }
        // The exit follows the last iteration's event, not MapStateSucceeded.
        let last = self.last_event();
        self.event(last, Event::MapStateSucceeded, || json!({}));
        self.links.exit_after.store(last, Ordering::Relaxed);
        Ok(Value::Array(outputs))
    }

    /// A Distributed Map's Map Run: each item runs as a child execution with a history of its
    /// own (its event ids count from its own ExecutionStarted), so the parent's history holds
    /// MapRunStarted and MapRunSucceeded (or MapRunFailed) only.
    async fn map_run(
        &self,
        map: &MapState,
        inputs: Vec<Value>,
        outer: &Arc<Vars>,
        limit: usize,
        started: u64,
        (tolerated_count, tolerated_percentage): (f64, f64),
    ) -> Result<Value, StatesError> {
        let run_started = self.event(started, Event::MapRunStarted, || json!({}));
        let total = inputs.len();
        let children = inputs.into_iter().map(|item_input| async move {
            let child = Run {
                services: self.services,
                info: self.info,
                execution_input: self.execution_input,
                start_ms: self.start_ms,
                // The child's own ExecutionStarted is event 1.
                event_ids: AtomicU64::new(1),
                transitions: AtomicU64::new(0),
                history: None,
                test: None,
                links: Links::default(),
            };
            let result = child
                .run_branch(&map.processor, item_input, Vars::inner(outer), 0, false)
                .await;
            self.transitions
                .fetch_add(child.transitions.load(Ordering::Relaxed), Ordering::Relaxed);
            result.map(|(output, _)| output)
        });
        let mut results = stream::iter(children).buffered(limit);
        let mut outputs = Vec::with_capacity(total);
        let mut failures = 0usize;
        while let Some(result) = results.next().await {
            match result {
                Ok(output) => outputs.push(output),
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
                        let failed = self
                            .event(run_started, Event::MapRunFailed, || failure_details(&error));
                        self.links.failed_after.store(failed, Ordering::Relaxed);
                        return Err(error);
                    }
                    outputs.push(error.to_output());
                }
            }
        }
        let succeeded = self.event(run_started, Event::MapRunSucceeded, || json!({}));
        self.event(succeeded, Event::MapStateSucceeded, || json!({}));
        self.links.exit_after.store(run_started, Ordering::Relaxed);
        Ok(Value::Array(outputs))
    }

    /// Each item's input: ItemSelector with `$$.Map.Item`, or the item itself.
    pub(crate) fn item_inputs(
        &self,
        map: &MapState,
        items: &[Value],
        scope: &Scope<'_>,
    ) -> Result<Vec<Value>, StatesError> {
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let item_input = match (&map.item_selector, &map.jsonata_item_selector) {
                (None, None) => item.clone(),
                (_, Some(selector)) => {
                    let item_context = StateContext {
                        map_item: Some((index, item)),
                        task_token: None,
                        ..*scope.state
                    };
                    Scope {
                        run: self,
                        input: scope.input,
                        vars: scope.vars,
                        state: &item_context,
                    }
                    .jsonata(None, None, |s| s.build(selector))?
                }
                (Some(selector), None) => {
                    let item_context = StateContext {
                        task_token: None,
                        map_item: Some((index, item)),
                        ..*scope.state
                    };
                    Scope {
                        run: self,
                        input: scope.input,
                        vars: scope.vars,
                        state: &item_context,
                    }
                    .build(selector)?
                }
            };
            inputs.push(item_input);
        }
        Ok(inputs)
    }

    /// MaxConcurrency, evaluated (0: no limit).
    pub(crate) fn max_concurrency(
        &self,
        map: &MapState,
        scope: &Scope<'_>,
    ) -> Result<usize, StatesError> {
        Ok(match &map.max_concurrency {
            None => 0,
            Some(count) => {
                let value = self.count(count, scope, "MaxConcurrency")?;
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
        })
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

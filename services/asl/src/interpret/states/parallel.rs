//! The Parallel state's work: its branches, run together on copies of the effective input,
//! and the ParallelStateStarted/Succeeded events (ParallelStateFailed is the retry layer's).

use super::super::compile::Branch;
use super::super::run::{Run, StateContext};
use super::super::scope::Vars;
use crate::error::StatesError;
use crate::history::HistoryEventType as Event;
use futures::future::{self, FutureExt};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl<'a> Run<'a> {
    pub(crate) async fn parallel(
        &self,
        branches: &[Branch],
        input: &Value,
        vars: &Vars,
        context: &StateContext<'_>,
    ) -> Result<Value, StatesError> {
        let outer = Arc::new(vars.clone());
        let started = self.event(context.attempt_after, Event::ParallelStateStarted, || {
            json!({})
        });
        let runs = branches.iter().map(|branch| {
            self.run_branch(branch, input.clone(), Vars::inner(&outer), started, true)
                .map(|r| r.map(|(output, _)| output))
        });
        let outputs = future::try_join_all(runs).await?;
        // The exit follows the branches' last event, not ParallelStateSucceeded.
        let last = self.last_event();
        self.event(last, Event::ParallelStateSucceeded, || json!({}));
        self.links.exit_after.store(last, Ordering::Relaxed);
        Ok(Value::Array(outputs))
    }
}

//! Spans for tracing (feature `spans`): one per state entered and one per task call, so a
//! host that installs a `tracing` subscriber (the worker's OpenTelemetry exporter) sees an
//! execution's shape without the engine doing any I/O.
//!
//! Why here and not derived from history events: the history is off by default and filtered
//! by level, its events carry no durations of their own and no link to the future that ran
//! them, and a task call's outgoing `traceparent` must name the task's span while the call is
//! being made — only a span that is current while the engine polls the task future gives
//! that. A span whose callsite no subscriber wants costs one cached atomic load
//! (`cargo bench -p asl --bench engine -- "order \(5"` shows no difference), and without the
//! feature these are no-ops.

use super::compile::{Kind, State};
use crate::error::StatesError;
use std::future::Future;

/// The target of every span the engine (and the worker) makes, so a subscriber can route
/// them to a trace exporter and keep them out of the log.
pub const SPAN_TARGET: &str = "quickstep::span";

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Pass { .. } => "Pass",
        Kind::Task(_) => "Task",
        Kind::Choice { .. } => "Choice",
        Kind::Wait(_) => "Wait",
        Kind::Succeed => "Succeed",
        Kind::Fail { .. } => "Fail",
        Kind::Parallel { .. } => "Parallel",
        Kind::Map(_) => "Map",
    }
}

#[cfg(feature = "spans")]
mod imp {
    use super::*;
    use tracing::field::Empty;
    use tracing::Instrument as _;

    pub(crate) type Span = tracing::Span;

    /// A state entered: named after the state, with its name and type as attributes.
    pub(crate) fn state(state: &State) -> Span {
        tracing::info_span!(
            target: SPAN_TARGET,
            "state",
            otel.name = %state.name,
            otel.kind = "internal",
            "state.name" = %state.name,
            "state.type" = kind_name(&state.kind),
            otel.status_code = Empty,
            "error.type" = Empty,
        )
    }

    /// One call of a task integration.
    pub(crate) fn task(resource: &str, state: &State) -> Span {
        tracing::info_span!(
            target: SPAN_TARGET,
            "task",
            otel.name = resource,
            otel.kind = "client",
            "task.resource" = resource,
            "state.name" = %state.name,
            otel.status_code = Empty,
            "error.type" = Empty,
        )
    }

    /// Marks a span as failed with the error's name.
    pub(crate) fn failed(span: &Span, error: &StatesError) {
        if !span.is_disabled() {
            span.record("otel.status_code", "error");
            span.record("error.type", error.name.as_str());
        }
    }

    /// Runs `work` with `span` current. A disabled span (no subscriber wants it) is not
    /// entered: entering and leaving one still cost ~30 instructions a state (callgrind).
    pub(crate) fn now<R>(span: &Span, work: impl FnOnce() -> R) -> R {
        if span.is_disabled() {
            work()
        } else {
            span.in_scope(work)
        }
    }

    /// Builds the future with `span` current, then polls it inside `span`.
    pub(crate) fn within<F: Future>(
        span: &Span,
        make: impl FnOnce() -> F,
    ) -> tracing::instrument::Instrumented<F> {
        let future = span.in_scope(make);
        future.instrument(span.clone())
    }
}

#[cfg(not(feature = "spans"))]
mod imp {
    use super::*;

    pub(crate) type Span = ();

    pub(crate) fn state(_: &State) -> Span {
        let _ = kind_name;
    }
    pub(crate) fn task(_: &str, _: &State) -> Span {}
    pub(crate) fn failed(_: &Span, _: &StatesError) {}
    pub(crate) fn within<F: Future>(_: &Span, make: impl FnOnce() -> F) -> F {
        make()
    }
    pub(crate) fn now<R>(_: &Span, work: impl FnOnce() -> R) -> R {
        work()
    }
}

pub(crate) use imp::*;

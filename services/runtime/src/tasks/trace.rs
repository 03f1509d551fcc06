//! W3C trace context: the execution span and the `traceparent` of outgoing calls.
//!
//! The executor runs an execution inside `execution_span` (a child of the start record's
//! `traceparent`) and `with_traceparent`. When the binary exports traces (OpenTelemetry
//! layer installed), an outgoing call's `traceparent` names the current span — the engine's
//! task span — so the callee's spans hang under it. Without an exporter the spans are
//! disabled and every outgoing call carries the start record's trace id with a fresh span
//! id; without a start `traceparent` either, each call starts a trace of its own.

use asl::interpret::SPAN_TARGET;
use asl::{ExecutionInfo, Outcome, Status};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use rand::RngCore;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

tokio::task_local! {
    static TRACEPARENT: Option<String>;
}

/// Runs `future` with `traceparent` as the parent of the calls it makes. Not an `async fn`:
/// that would hold `future` twice, once as its argument and once inside the scope.
pub fn with_traceparent<F: std::future::Future>(
    traceparent: Option<String>,
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    TRACEPARENT.scope(traceparent, future)
}

/// The `traceparent` for one outgoing call: the current trace (when there is a valid one)
/// with a new span id, else a new trace; sampled flag kept or set.
pub fn outgoing() -> String {
    let current = tracing::Span::current();
    if !current.is_disabled() {
        let context = current.context();
        let span = context.span();
        let span = span.span_context();
        if span.is_valid() {
            return format!(
                "00-{}-{}-{:02x}",
                span.trace_id(),
                span.span_id(),
                span.trace_flags().to_u8()
            );
        }
    }
    let mut rng = rand::rng();
    let span = format!("{:016x}", rng.next_u64().max(1));
    let parent = TRACEPARENT.try_with(|p| p.clone()).ok().flatten();
    if let Some((trace_id, flags)) = parent.as_deref().and_then(parse) {
        return format!("00-{trace_id}-{span}-{flags}");
    }
    let trace_id = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64().max(1));
    format!("00-{trace_id}-{span}-01")
}

/// The span of one execution: a child of `traceparent` when it is valid, else a root.
/// Disabled (and free) unless a subscriber wants `SPAN_TARGET` spans.
pub fn execution_span(info: &ExecutionInfo<'_>, traceparent: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!(
        target: SPAN_TARGET,
        "execution",
        otel.name = %info.state_machine_name,
        otel.kind = "consumer",
        "execution.arn" = %info.execution_arn,
        "execution.name" = %info.name,
        "state_machine.arn" = %info.state_machine_arn,
        "state_machine.name" = %info.state_machine_name,
        "execution.status" = Empty,
        otel.status_code = Empty,
        "error.type" = Empty,
    );
    if !span.is_disabled() {
        if let Some(parent) = traceparent.and_then(remote_parent) {
            // Only fails when the span has no OpenTelemetry layer: then nothing is exported.
            let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
        }
    }
    span
}

/// Records how the execution ended on its span.
pub fn finished(span: &tracing::Span, outcome: &Outcome) {
    if span.is_disabled() {
        return;
    }
    span.record("execution.status", outcome.status.as_str());
    if outcome.status != Status::Succeeded {
        span.record("otel.status_code", "error");
        let error = match outcome.status {
            Status::TimedOut => "States.Timeout",
            _ => outcome.error.as_deref().unwrap_or("States.Failed"),
        };
        span.record("error.type", error);
    }
}

/// The remote parent a valid `traceparent` names.
fn remote_parent(header: &str) -> Option<SpanContext> {
    let (trace_id, flags) = parse(header)?;
    let span_id = header.trim().split('-').nth(2)?;
    let context = SpanContext::new(
        TraceId::from_hex(trace_id).ok()?,
        SpanId::from_hex(span_id).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::default(),
    );
    context.is_valid().then_some(context)
}

/// `(trace id, flags)` of a valid version-00 `traceparent`.
fn parse(header: &str) -> Option<(&str, &str)> {
    let mut parts = header.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let valid = version == "00"
        && parts.next().is_none()
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then_some((trace_id, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_trace_and_makes_a_new_span() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned();
        let header = with_traceparent(Some(parent), async { outgoing() }).await;
        assert!(
            header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{header}"
        );
        assert!(header.ends_with("-01"));
        assert!(!header.contains("00f067aa0ba902b7"));
    }

    /// A Task whose integration answers with the `traceparent` it would send.
    struct Echo;

    impl asl::TaskHandler for Echo {
        fn invoke<'a>(
            &'a self,
            _: asl::TaskRequest<'a>,
        ) -> futures::future::BoxFuture<'a, Result<serde_json::Value, asl::StatesError>> {
            let header = outgoing();
            Box::pin(async move { Ok(serde_json::Value::String(header)) })
        }
    }

    #[tokio::test]
    async fn execution_state_and_task_spans_continue_the_start_traceparent() {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
        use tracing::Instrument as _;
        use tracing_subscriber::layer::SubscriberExt as _;

        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);

        let definition = serde_json::json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Call"},
            "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}}});
        let machine =
            asl::Machine::from_definition(&definition, asl::validate::MachineType::Standard)
                .unwrap();
        let info = asl::ExecutionInfo {
            state_machine_name: "m".into(),
            ..Default::default()
        };
        let clock = asl::interpret::VirtualClock::new(0);
        let rng = asl::interpret::SplitMix64::new(1);
        let services = asl::Services {
            tasks: &Echo,
            clock: &clock,
            rng: &rng,
            tokens: &asl::interpret::CountingTokens::default(),
            history: None,
        };
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let span = execution_span(&info, Some(parent));
        let outcome = machine
            .run(serde_json::json!({}), &info, &services)
            .instrument(span.clone())
            .await;
        finished(&span, &outcome);
        drop(span);
        let sent = outcome.output.unwrap();

        let spans = exporter.get_finished_spans().unwrap();
        let find = |name: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no span {name}: {spans:?}"))
        };
        let attribute = |span: &opentelemetry_sdk::trace::SpanData, key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        let (execution, a, call) = (find("m"), find("A"), find("Call"));
        let task = find("arn:aws:lambda:us-east-1:1:function:f");
        let trace_id = execution.span_context.trace_id();
        assert_eq!(trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(execution.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(
            attribute(execution, "execution.status").as_deref(),
            Some("SUCCEEDED")
        );
        for (state, kind) in [(a, "Pass"), (call, "Task")] {
            assert_eq!(state.span_context.trace_id(), trace_id);
            assert_eq!(state.parent_span_id, execution.span_context.span_id());
            assert_eq!(attribute(state, "state.type").as_deref(), Some(kind));
        }
        assert_eq!(task.parent_span_id, call.span_context.span_id());
        assert_eq!(
            attribute(task, "task.resource").as_deref(),
            Some("arn:aws:lambda:us-east-1:1:function:f")
        );
        assert_eq!(
            sent,
            format!("00-{trace_id}-{}-01", task.span_context.span_id())
        );
    }

    #[test]
    fn makes_a_trace_without_one() {
        let header = outgoing();
        assert!(parse(&header).is_some(), "{header}");
        assert!(parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
    }
}

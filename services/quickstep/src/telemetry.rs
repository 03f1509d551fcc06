//! Logging and, when an OTLP endpoint is configured, trace export.
//!
//! The log (fmt layer, `RUST_LOG`) never sees spans of `asl::interpret::SPAN_TARGET`; the
//! OpenTelemetry layer sees only those. With no endpoint there is no such layer, every
//! execution, state and task span is disabled at its callsite and costs nothing.
//!
//! Export: OTLP over HTTP with protobuf bodies (hyper client, plain HTTP: no OpenSSL), batched
//! on a one-thread tokio runtime of its own, so `run` (current-thread or virtual clock) and
//! the worker export the same way. `Telemetry::shutdown` flushes what is queued.

use anyhow::Context as _;
use asl::interpret::SPAN_TARGET;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt as _, LevelFilter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, Registry};

/// Where traces go; `None`: nowhere (the default).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OtlpArgs {
    /// Export traces (one span per execution, per state, per task call) to this OTLP/HTTP
    /// endpoint, e.g. http://127.0.0.1:4318 (`/v1/traces` is added when the URL has no
    /// path) [env: QUICKSTEP_OTLP_ENDPOINT]. Off by default.
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
}

impl OtlpArgs {
    /// The flag, else QUICKSTEP_OTLP_ENDPOINT; empty means off.
    pub fn endpoint(&self) -> Option<String> {
        self.otlp_endpoint
            .clone()
            .or_else(|| std::env::var("QUICKSTEP_OTLP_ENDPOINT").ok())
            .filter(|e| !e.trim().is_empty())
    }
}

/// The installed exporter, if any; flush it with `shutdown` before the process exits.
pub struct Telemetry {
    exporter: Option<(SdkTracerProvider, tokio::runtime::Runtime)>,
}

/// Whether a command logs (`run` prints only its outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// To stderr, filtered by `RUST_LOG` (default `info`).
    Stderr,
    /// Not at all.
    Off,
}

/// Installs the global subscriber: the log as `log` says, and the OTLP exporter when `otlp`
/// names an endpoint, with `service.name` = `service`.
pub fn init(service: &'static str, otlp: &OtlpArgs, log: Log) -> anyhow::Result<Telemetry> {
    let log_filter = (log == Log::Stderr)
        .then(|| EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
    let mut exporter = None;
    let tracer = match otlp.endpoint() {
        None => None,
        Some(endpoint) => {
            let endpoint = traces_url(&endpoint)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("otlp-export")
                .enable_all()
                .build()
                .context("starting the trace export runtime")?;
            let provider = {
                // The batch processor and the hyper client spawn onto this runtime.
                let _entered = runtime.enter();
                let span_exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(endpoint)
                    .with_timeout(std::time::Duration::from_secs(10))
                    .build()
                    .context("building the OTLP exporter")?;
                let batch =
                    opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                        span_exporter,
                        opentelemetry_sdk::runtime::Tokio,
                    )
                    .build();
                SdkTracerProvider::builder()
                    .with_span_processor(batch)
                    .with_resource(
                        Resource::builder()
                            .with_service_name(service)
                            .with_attribute(opentelemetry::KeyValue::new(
                                "service.version",
                                env!("CARGO_PKG_VERSION"),
                            ))
                            .build(),
                    )
                    .build()
            };
            let tracer = provider.tracer(service);
            exporter = Some((provider, runtime));
            Some(tracer)
        }
    };
    subscriber(log_filter, tracer)
        .try_init()
        .context("installing the tracing subscriber")?;
    Ok(Telemetry { exporter })
}

/// The subscriber: the log layer when there is a log filter, the OpenTelemetry layer when
/// there is a tracer. Absent layers are left out rather than passed as `None`: an absent
/// `Option` layer reports every callsite as wanted, which enabled every engine span (a
/// slab slot, enter/exit and close per state) with nothing to export them to.
///
/// Each filter states its most verbose level: a filter with no hint makes the subscriber's
/// hint "everything", and `try_init` turns that hint into the `log` crate's max level —
/// then every `trace!` librdkafka's Rust wrapper makes per produced record is formatted into
/// a record only to be thrown away.
fn subscriber(
    log_filter: Option<EnvFilter>,
    tracer: Option<opentelemetry_sdk::trace::Tracer>,
) -> impl tracing::Subscriber + Send + Sync {
    type BoxedLayer = Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync>;
    let mut layers: Vec<BoxedLayer> = Vec::new();
    if let Some(filter) = log_filter {
        let not_spans =
            filter_fn(|meta| meta.target() != SPAN_TARGET).with_max_level_hint(LevelFilter::TRACE);
        layers.push(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(filter.and(not_spans))
                .boxed(),
        );
    }
    if let Some(tracer) = tracer {
        // The engine's and the worker's spans are all `info_span!`.
        let spans =
            filter_fn(|meta| meta.target() == SPAN_TARGET).with_max_level_hint(LevelFilter::INFO);
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(spans)
                .boxed(),
        );
    }
    tracing_subscriber::registry().with(layers)
}

impl Telemetry {
    /// Exports what is still queued and stops the exporter.
    pub fn shutdown(self) {
        if let Some((provider, runtime)) = self.exporter {
            if let Err(error) = provider.shutdown() {
                eprintln!("quickstep: flushing traces: {error}");
            }
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

/// `endpoint` with `/v1/traces` when it names no path.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let (scheme, rest) = endpoint
        .split_once("://")
        .with_context(|| format!("the OTLP endpoint '{endpoint}' is not an http:// URL"))?;
    anyhow::ensure!(
        scheme == "http",
        "the OTLP endpoint '{endpoint}' must be http:// (no TLS client is built in; use a local collector)"
    );
    Ok(match rest.split_once('/') {
        Some((_, path)) if !path.is_empty() => endpoint.to_owned(),
        _ => format!("{}/v1/traces", endpoint.trim_end_matches('/')),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Subscriber as _;

    // The level is checked through the subscriber's hint (what `try_init` hands the `log`
    // crate), not with `tracing::enabled!`: callsite interest is cached process-wide, so in
    // a test binary where other tests install subscribers that macro is not this one's.
    /// Callsite interest is computed over every live subscriber: two of these tests at once
    /// would each see the other's interest. They take turns.
    static ONE_SUBSCRIBER: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn without_an_endpoint_engine_spans_are_off_and_the_level_is_the_logs() {
        let _turn = ONE_SUBSCRIBER.lock().unwrap_or_else(|e| e.into_inner());
        let subscriber = subscriber(Some(EnvFilter::new("info")), None);
        assert_eq!(subscriber.max_level_hint(), Some(LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(target: SPAN_TARGET, "state");
            assert!(span.is_disabled(), "no exporter: engine spans cost nothing");
        });
        let silent = subscriber_without_anything();
        assert_eq!(silent.max_level_hint(), Some(LevelFilter::OFF));
    }

    fn subscriber_without_anything() -> impl tracing::Subscriber {
        subscriber(None, None)
    }

    #[test]
    fn with_a_tracer_engine_spans_are_on_and_stay_out_of_the_log() {
        let _turn = ONE_SUBSCRIBER.lock().unwrap_or_else(|e| e.into_inner());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = subscriber(Some(EnvFilter::new("warn")), Some(provider.tracer("t")));
        assert_eq!(subscriber.max_level_hint(), Some(LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(target: SPAN_TARGET, "state");
            assert!(!span.is_disabled());
        });
    }

    #[test]
    fn adds_the_traces_path() {
        assert_eq!(
            traces_url("http://c:4318").unwrap(),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/").unwrap(),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/x/y").unwrap(),
            "http://c:4318/x/y"
        );
        assert!(traces_url("https://c").is_err());
        assert!(traces_url("c:4318").is_err());
    }
}

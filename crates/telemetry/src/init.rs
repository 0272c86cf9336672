//! The process's tracing subscriber: a stderr formatter filtered by an `EnvFilter` (from
//! `RUST_LOG`, default given by the caller), and an OpenTelemetry layer taking spans at info
//! and above whatever the log level (so a CLI logging warnings only still traces). The
//! OpenTelemetry layer is always present, so spans carry trace ids that
//! [`crate::propagation`] can send on; spans are
//! exported over OTLP (http/protobuf) only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set and `OTEL_SDK_DISABLED` is not `true`.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the tracer provider alive; dropping it flushes and shuts down span export.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.exporting
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if self.exporting {
            if let Err(e) = self.provider.force_flush() {
                eprintln!("telemetry: flushing spans failed: {e}");
            }
            if let Err(e) = self.provider.shutdown() {
                eprintln!("telemetry: shutting down span export failed: {e}");
            }
        }
    }
}

/// Installs the global subscriber and the W3C propagator for `service_name`; call once, from a
/// binary's `main` (inside or outside a runtime: export runs on its own thread). `default_filter`
/// applies when `RUST_LOG` is unset or invalid. A second call leaves the first subscriber.
pub fn init(service_name: &str, default_filter: &str) -> TelemetryGuard {
    let (provider, exporting) = tracer_provider(service_name);
    let tracer = provider.tracer("aide");
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(LevelFilter::INFO);
    let installed = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()
        .is_ok();
    if installed {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }
    TelemetryGuard {
        provider,
        exporting: exporting && installed,
    }
}

/// Whether the environment asks for OTLP span export.
pub fn export_requested(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The provider: with a batch OTLP exporter when asked for (and buildable), else without
/// processors (ids are still generated, nothing leaves the process).
fn tracer_provider(service_name: &str) -> (SdkTracerProvider, bool) {
    let env = |name: &str| std::env::var(name).ok();
    // `Resource::builder` reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; ours is the
    // default only.
    let mut resource = Resource::builder();
    if env("OTEL_SERVICE_NAME").is_none_or(|v| v.trim().is_empty()) {
        resource = resource.with_service_name(service_name.to_owned());
    }
    let builder = SdkTracerProvider::builder().with_resource(resource.build());
    if !export_requested(env) {
        return (builder.build(), false);
    }
    let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_default();
    if !protocol.is_empty() && protocol != "http/protobuf" {
        eprintln!(
            "telemetry: OTLP protocol {protocol:?} is not built in; exporting with http/protobuf"
        );
    }
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
    {
        Ok(exporter) => (builder.with_batch_exporter(exporter).build(), true),
        Err(e) => {
            eprintln!("telemetry: OTLP span export disabled: {e}");
            (builder.build(), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::export_requested;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn export_follows_the_standard_variables() {
        assert!(!export_requested(env(&[])));
        assert!(export_requested(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://c:4318"
        )])));
        assert!(export_requested(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces"
        )])));
        assert!(!export_requested(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ])));
        assert!(!export_requested(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            " "
        )])));
    }
}

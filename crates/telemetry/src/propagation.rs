//! W3C trace context in gRPC metadata. Clients wrap their channel with [`traced`] (a tonic
//! interceptor, [`TraceInjector`], writing `traceparent`/`tracestate` from the current span);
//! servers add [`GrpcTraceLayer`] to `Server::builder()`, which opens a `grpc` span per
//! request whose parent is the caller's context from those headers. The W3C propagator is used
//! directly (not the global one), so propagation works whatever `init` did.

use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::Span;
use tracing::instrument::{Instrument, Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A channel whose requests carry the caller's trace context.
pub type TracedChannel = InterceptedService<Channel, TraceInjector>;

/// Wraps `channel` so every request carries the current span's trace context.
pub fn traced(channel: Channel) -> TracedChannel {
    InterceptedService::new(channel, TraceInjector)
}

/// A tonic interceptor writing the current span's W3C trace context into request metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceInjector;

impl Interceptor for TraceInjector {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject(&Span::current().context(), request.metadata_mut());
        Ok(request)
    }
}

/// Writes `cx` into `metadata` (nothing when `cx` has no valid span).
pub fn inject(cx: &Context, metadata: &mut MetadataMap) {
    TraceContextPropagator::new().inject_context(cx, &mut MetadataInjector(metadata));
}

/// The context carried by `headers` (empty when there is none or it is malformed).
pub fn extract(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A tower layer for tonic servers: each request runs in an `info` span named `grpc`
/// (`otel.name` = the gRPC path) that continues the caller's trace when the request carries one.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcTraceLayer;

impl<S> tower_layer::Layer<S> for GrpcTraceLayer {
    type Service = GrpcTraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTraceService { inner }
    }
}

/// The service [`GrpcTraceLayer`] wraps around a server's routes.
#[derive(Debug, Clone)]
pub struct GrpcTraceService<S> {
    inner: S,
}

impl<S, B> tower_service::Service<http::Request<B>> for GrpcTraceService<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = request_span(&request);
        let _entered = span.enter();
        self.inner.call(request).in_current_span()
    }
}

/// The request's span, child of the caller's context when the headers carry one.
fn request_span<B>(request: &http::Request<B>) -> Span {
    let path = request.uri().path();
    let span = tracing::info_span!(
        "grpc",
        otel.name = path,
        otel.kind = "server",
        rpc.system = "grpc",
    );
    let parent = extract(request.headers());
    if opentelemetry::trace::TraceContextExt::has_active_span(&parent) {
        // Fails only when no OpenTelemetry layer is installed; the span then stays a root.
        let _ = span.set_parent(parent);
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };

    #[test]
    fn traceparent_round_trips_through_metadata() {
        let sent = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("aide", "x")]).unwrap(),
        );
        let mut metadata = MetadataMap::new();
        inject(
            &Context::new().with_remote_span_context(sent.clone()),
            &mut metadata,
        );
        assert_eq!(
            metadata.get("traceparent").and_then(|v| v.to_str().ok()),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        let received = extract(&metadata.into_headers());
        let received = received.span().span_context().clone();
        assert_eq!(received.trace_id(), sent.trace_id());
        assert_eq!(received.span_id(), sent.span_id());
        assert_eq!(received.trace_flags(), sent.trace_flags());
        assert_eq!(received.trace_state().get("aide"), Some("x"));
        assert!(received.is_remote());
    }

    #[test]
    fn no_context_no_headers() {
        let mut metadata = MetadataMap::new();
        inject(&Context::new(), &mut metadata);
        assert!(metadata.is_empty());
        assert!(!extract(&metadata.into_headers()).has_active_span());
    }
}

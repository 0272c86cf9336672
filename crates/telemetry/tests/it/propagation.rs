//! A real tonic server behind `GrpcTraceLayer` and a client over `traced`: the server's
//! request span joins the client's trace, with the client's span as its parent, and a request
//! without trace context starts a trace of its own.

use std::sync::OnceLock;

use aide_telemetry::{GrpcTraceLayer, traced};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

static SPANS: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();

/// The process-wide subscriber recording every span in memory.
fn recorded() -> &'static (InMemorySpanExporter, SdkTracerProvider) {
    SPANS.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::set_global_default(subscriber).expect("subscriber");
        (exporter, provider)
    })
}

async fn health_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        Server::builder()
            .layer(GrpcTraceLayer)
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    url
}

fn server_spans(spans: &[SpanData]) -> Vec<&SpanData> {
    spans
        .iter()
        .filter(|s| s.name == "/grpc.health.v1.Health/Check")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_span_joins_the_callers_trace() {
    let (exporter, provider) = recorded();
    let url = health_server().await;
    let channel = Channel::from_shared(url).expect("url").connect_lazy();
    let mut client = HealthClient::new(traced(channel.clone()));

    let parent = tracing::info_span!("caller");
    let parent_cx = parent.context();
    let parent_ids = {
        use opentelemetry::trace::TraceContextExt;
        let sc = parent_cx.span().span_context().clone();
        (sc.trace_id(), sc.span_id())
    };
    client
        .check(HealthCheckRequest::default())
        .instrument(parent.clone())
        .await
        .expect("check");
    drop(parent);

    // And one call without context: a trace of its own.
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("check");
    let _ = provider.force_flush();

    let spans = exporter.get_finished_spans().expect("spans");
    let served = server_spans(&spans);
    assert_eq!(served.len(), 2, "two server spans: {spans:#?}");
    let joined = served
        .iter()
        .find(|s| s.span_context.trace_id() == parent_ids.0)
        .expect("a server span in the caller's trace");
    assert_eq!(joined.parent_span_id, parent_ids.1);
    assert!(joined.parent_span_is_remote);
    let alone = served
        .iter()
        .find(|s| s.span_context.trace_id() != parent_ids.0)
        .expect("a server span in a trace of its own");
    assert!(!alone.parent_span_is_remote);
}

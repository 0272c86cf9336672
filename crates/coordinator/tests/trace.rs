//! One trace per node: a real engine drives a short house-prices run against a real gateway
//! (baseline) and a real process-backend runner, both serving behind `GrpcTraceLayer`, with
//! every span recorded in memory. Each node's span is the root of its own trace, and the
//! gateway's and the runner's request spans for that node sit in that trace under it.

#[path = "it/engine_support/mod.rs"]
mod engine_support;

use std::collections::HashMap;

use aide_coordinator::engine::RunEnd;
use engine_support::*;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

const COMPLETE: &str = "/aide.v1.LlmGateway/Complete";
const EXECUTE: &str = "/aide.v1.Runner/Execute";

/// Installs the process's subscriber: info spans and up, exported to memory as they end.
fn record_spans() -> (InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("trace-test"))
        .with_filter(LevelFilter::INFO);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .expect("subscriber");
    (exporter, provider)
}

/// Whether `ancestor` is on the parent chain of `span` (within its trace).
fn descends_from(span: &SpanData, ancestor: SpanId, by_id: &HashMap<SpanId, &SpanData>) -> bool {
    let mut parent = span.parent_span_id;
    for _ in 0..64 {
        if parent == ancestor {
            return true;
        }
        match by_id.get(&parent) {
            Some(next) => parent = next.parent_span_id,
            None => return false,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_node_is_one_trace_across_coordinator_gateway_and_runner() {
    let (exporter, provider) = record_spans();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let gw = gateway("").await;
    let rn = runner(2, 36000).await;
    let lease = claimed_run(&store, house_prices_task(), settings(2, 2)).await;
    let engine = grpc_engine(store.clone(), &gw.url, &[&rn.url], None);
    let end = engine
        .drive(lease, CancellationToken::new())
        .await
        .expect("drive");
    assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");
    gw.stop();
    rn.stop();
    let _ = provider.force_flush();

    let spans = exporter.get_finished_spans().expect("spans");
    let by_id: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    let nodes: Vec<&SpanData> = spans.iter().filter(|s| s.name == "node").collect();
    assert_eq!(nodes.len(), 2, "one span per node: {:#?}", names(&spans));
    let mut traces = Vec::new();
    for node in &nodes {
        let trace = node.span_context.trace_id();
        assert_eq!(
            node.parent_span_id,
            SpanId::INVALID,
            "a node's span is a root"
        );
        assert!(
            !node.links.is_empty(),
            "a node's span links to its run's span"
        );
        let in_trace: Vec<&SpanData> = spans
            .iter()
            .filter(|s| s.span_context.trace_id() == trace)
            .collect();
        for path in [COMPLETE, EXECUTE] {
            let served: Vec<&&SpanData> = in_trace.iter().filter(|s| s.name == path).collect();
            assert!(
                !served.is_empty(),
                "no {path} span in the node's trace: {:#?}",
                names(&spans)
            );
            for span in served {
                assert!(span.parent_span_is_remote, "{path}: parent came over gRPC");
                assert!(
                    descends_from(span, node.span_context.span_id(), &by_id),
                    "{path} is not under the node's span"
                );
            }
        }
        traces.push(trace);
    }
    traces.dedup();
    assert_eq!(traces.len(), 2, "each node has a trace of its own");
}

fn names(spans: &[SpanData]) -> Vec<(String, TraceId)> {
    spans
        .iter()
        .map(|s| (s.name.to_string(), s.span_context.trace_id()))
        .collect()
}

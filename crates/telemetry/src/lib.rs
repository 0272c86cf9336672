//! Telemetry of aide's binaries and gRPC links: [`init`] installs the process's tracing
//! subscriber (logs to stderr, and OTLP span export when the standard `OTEL_*` variables ask
//! for it); [`propagation`] carries W3C trace context (`traceparent`, `tracestate`) in gRPC
//! metadata so that one trace follows a request from the coordinator into the gateway and the
//! runners. Propagation never depends on export: spans always get OpenTelemetry ids.
//! [`metrics`] holds a service's Prometheus metrics and serves them on its own listener;
//! [`grpc_metrics`] counts served gRPC requests by method and status code.

pub mod grpc_metrics;
pub mod init;
pub mod metrics;
pub mod propagation;

pub use grpc_metrics::{GRPC_REQUESTS, GrpcMetricsLayer};
pub use init::{TelemetryGuard, init};
pub use metrics::{
    BUILD_INFO, Collect, Def, Kind, Metrics, SECONDS_BUCKETS, build_info, scrape, serve_metrics,
};
pub use propagation::{GrpcTraceLayer, GrpcTraceService, TraceInjector, TracedChannel, traced};

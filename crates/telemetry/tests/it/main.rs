//! The integration tests of aide-telemetry in one test binary (one link instead of three).
//!
//! Process-global state: `propagation` installs the process's tracing subscriber (once) and
//! counts only the spans `GrpcTraceLayer` names after the health check, which `metrics`
//! (no trace layer) never creates; `export` initialises telemetry only in a child process
//! (this binary re-run with `--exact export::export_child`).

mod export;
mod metrics;
mod propagation;

//! The integration tests of aide-coordinator in one test binary (one link instead of one
//! per file). `trace` stays a binary of its own: it installs the process's global tracing
//! subscriber and counts every span, which the other suites' spans would disturb.
//!
//! Suites that share this process run in parallel threads: the process-backend runners of
//! the engine suites each get their own sandbox uid range (`runner(slots, uid_base)`, 31000
//! to 38300, distinct across files; `sandbox_search` 38500), ports are always picked free, and nothing here sets
//! environment variables or signal handlers.

mod api_support;
mod distributed_support;
mod engine_support;
mod http_support;
mod scale_harness;

mod api;
mod api_sweeps;
mod blobs;
mod chaos;
mod dispatch;
mod distributed;
mod distributed_provider;
mod engine;
mod engine_database_restart;
mod engine_infra;
mod engine_merge;
mod engine_report;
mod engine_steering;
mod engine_stubs;
mod hosts;
mod http_api;
mod http_events;
mod http_fuzz;
mod outputs;
mod sandbox_search;
mod scale;
mod service_tls;
mod slurm;
mod supervisor;
mod sweep_pump;
mod sweeps;

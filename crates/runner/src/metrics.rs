//! The runner's Prometheus metrics: slots, executions by outcome and their wall time, the
//! bundle cache, and daemon call latency (Docker backend). Labels take fixed values only.

use std::future::Future;
use std::pin::Pin;

use aide_proto::v1::Finished;
use aide_telemetry::{Collect, Def, Metrics, SECONDS_BUCKETS};

use crate::service::RunnerService;

pub const SLOTS: Def = Def::gauge(
    "aide_runner_slots",
    "Execution slots of this runner, by state (busy or free).",
);
pub const EXECUTIONS: Def = Def::counter(
    "aide_runner_executions_total",
    "Executions finished, by outcome (ok, error, timeout, oom, cancelled, sandbox_error).",
);
pub const EXECUTION_SECONDS: Def = Def::histogram(
    "aide_runner_execution_duration_seconds",
    "Wall time of the scripts this runner ran.",
    SECONDS_BUCKETS,
);
pub const CACHE_BYTES: Def = Def::gauge("aide_runner_cache_bytes", "Bytes the bundle cache holds.");
pub const CACHE_LOOKUPS: Def = Def::counter(
    "aide_runner_cache_lookups_total",
    "Task bundles made ready, by result: hit (from the cache) or miss (fetched).",
);
pub const DOCKER_CALL_SECONDS: Def = Def::histogram(
    "aide_runner_docker_call_duration_seconds",
    "Latency of Docker daemon calls, by call.",
    SECONDS_BUCKETS,
);

/// What became of an execution, as its metric label.
pub fn outcome(finished: &Finished) -> &'static str {
    if finished.cancelled {
        "cancelled"
    } else if !finished.sandbox_error.is_empty() {
        "sandbox_error"
    } else if finished.timed_out {
        "timeout"
    } else if finished.oom_killed {
        "oom"
    } else if finished.exit_code == Some(0) {
        "ok"
    } else {
        "error"
    }
}

/// Counts a finished execution into `metrics`.
pub fn count_execution(metrics: &Metrics, finished: &Finished) {
    metrics.inc(&EXECUTIONS, &[("outcome", outcome(finished))]);
    if let Some(wall) = finished
        .wall_time
        .and_then(|d| std::time::Duration::try_from(d).ok())
    {
        metrics.observe(&EXECUTION_SECONDS, &[], wall.as_secs_f64());
    }
}

/// Reads the slots and the cache of a runner at scrape time.
#[derive(Debug)]
pub struct RunnerCollector(pub RunnerService);

impl Collect for RunnerCollector {
    fn collect<'a>(
        &'a self,
        metrics: &'a Metrics,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let (free, total) = (self.0.free_slots(), self.0.slots());
            metrics.set(&SLOTS, &[("state", "free")], free as f64);
            metrics.set(
                &SLOTS,
                &[("state", "busy")],
                total.saturating_sub(free) as f64,
            );
            if let Some(bytes) = self.0.cache_bytes() {
                metrics.set(&CACHE_BYTES, &[], bytes as f64);
            }
            if let Some(lookups) = self.0.cache_lookups() {
                metrics.set(&CACHE_LOOKUPS, &[("result", "hit")], lookups.hits as f64);
                metrics.set(&CACHE_LOOKUPS, &[("result", "miss")], lookups.misses as f64);
            }
        })
    }
}

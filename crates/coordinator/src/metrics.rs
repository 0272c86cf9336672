//! The coordinator's Prometheus metrics. Counted as they happen, per replica: nodes by
//! action and verdict, lease claims and losses, infrastructure retries, LLM tokens and
//! cost. Read from the store at scrape time, the same on every replica (take the max, not
//! the sum): runs by status, sweep cells by state, live runners and their slots. The queue
//! depth is this replica's executions waiting for a runner slot (take the sum).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aide_core::RunStatus;
use aide_store::{CallUsage, NodeRecord, Store};
use aide_telemetry::{Collect, Def, Metrics};

use crate::dispatch::SlotQueue;

pub const NODES: Def = Def::counter(
    "aide_coordinator_nodes_total",
    "Nodes reviewed, by action (draft, improve, debug) and verdict (good or buggy).",
);
pub const LEASE_CLAIMS: Def = Def::counter(
    "aide_coordinator_lease_claims_total",
    "Runs this replica claimed (new, resumed, or taken over from an expired lease).",
);
pub const LEASE_LOSSES: Def = Def::counter(
    "aide_coordinator_lease_losses_total",
    "Runs whose lease this replica lost while driving them.",
);
pub const INFRA_RETRIES: Def = Def::counter(
    "aide_coordinator_infra_retries_total",
    "Steps retried after an infrastructure failure (store, gateway, runner).",
);
pub const LLM_TOKENS: Def = Def::counter(
    "aide_coordinator_llm_tokens_total",
    "Tokens of the model calls of runs, by kind (prompt or completion).",
);
pub const LLM_COST: Def = Def::counter(
    "aide_coordinator_llm_cost_usd_total",
    "Dollars the model calls of runs cost.",
);
pub const RUNS: Def = Def::gauge(
    "aide_coordinator_runs",
    "Runs of every project, by status (store-wide).",
);
pub const SWEEP_CELLS: Def = Def::gauge(
    "aide_coordinator_sweep_cells",
    "Sweep cells, by state (store-wide).",
);
pub const RUNNERS: Def = Def::gauge(
    "aide_coordinator_runners",
    "Runners registered with a recent heartbeat (store-wide).",
);
pub const RUNNER_SLOTS: Def = Def::gauge(
    "aide_coordinator_runner_slots",
    "Execution slots of the live runners, by state (busy or free), as they last reported.",
);
pub const QUEUE_DEPTH: Def = Def::gauge(
    "aide_coordinator_queue_depth",
    "Node executions on this replica waiting for a runner slot.",
);
pub const SCRAPE_ERRORS: Def = Def::counter(
    "aide_coordinator_scrape_errors_total",
    "Scrapes whose store-wide gauges could not be read (they keep their last values).",
);

/// Names the service and makes the counters that may stay at zero for long exist from the
/// start.
pub fn declare(metrics: &Metrics) {
    aide_telemetry::build_info(metrics, "coordinator");
    for def in [
        &LEASE_CLAIMS,
        &LEASE_LOSSES,
        &INFRA_RETRIES,
        &LLM_COST,
        &SCRAPE_ERRORS,
    ] {
        metrics.declare(def, &[]);
    }
}

/// Counts a reviewed node.
pub fn count_node(metrics: &Metrics, node: &NodeRecord) {
    let verdict = match node.review.as_ref().is_some_and(|r| r.is_buggy) {
        true => "buggy",
        false => "good",
    };
    let labels = [("action", node.action.as_str()), ("verdict", verdict)];
    metrics.inc(&NODES, &labels);
}

/// Counts a model call's tokens and cost.
pub fn count_llm_call(metrics: &Metrics, usage: &CallUsage) {
    let prompt = usage.prompt_tokens as f64;
    metrics.add(&LLM_TOKENS, &[("kind", "prompt")], prompt);
    let completion = usage.completion_tokens as f64;
    metrics.add(&LLM_TOKENS, &[("kind", "completion")], completion);
    metrics.add(&LLM_COST, &[], usage.cost_usd);
}

/// Reads the store-wide gauges and this replica's queue depth at scrape time.
pub struct CoordinatorCollector<S> {
    pub store: Arc<S>,
    pub queue: Arc<SlotQueue>,
    /// A runner whose last heartbeat is older is not counted.
    pub stale_after: Duration,
}

impl<S> std::fmt::Debug for CoordinatorCollector<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoordinatorCollector")
            .finish_non_exhaustive()
    }
}

impl<S: Store> CoordinatorCollector<S> {
    async fn read_store(&self, metrics: &Metrics) -> Result<(), aide_store::Error> {
        let runs = self.store.count_runs().await?;
        for status in RunStatus::ALL {
            metrics.set(
                &RUNS,
                &[("status", status.as_str())],
                runs.of(status) as f64,
            );
        }
        let cells = self.store.count_all_cells().await?;
        for (state, n) in cells.by_status() {
            metrics.set(&SWEEP_CELLS, &[("state", state.as_str())], n as f64);
        }
        let runners = self.store.live_runners(self.stale_after).await?;
        metrics.set(&RUNNERS, &[], runners.len() as f64);
        let free: u64 = runners.iter().map(|r| u64::from(r.load.free_slots)).sum();
        let busy: u64 = runners.iter().map(|r| u64::from(r.load.running)).sum();
        metrics.set(&RUNNER_SLOTS, &[("state", "free")], free as f64);
        metrics.set(&RUNNER_SLOTS, &[("state", "busy")], busy as f64);
        Ok(())
    }
}

impl<S: Store> Collect for CoordinatorCollector<S> {
    fn collect<'a>(
        &'a self,
        metrics: &'a Metrics,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            metrics.set(&QUEUE_DEPTH, &[], self.queue.depth() as f64);
            if let Err(e) = self.read_store(metrics).await {
                tracing::warn!(error = %e, "metrics: cannot read the store");
                metrics.inc(&SCRAPE_ERRORS, &[]);
            }
        })
    }
}

//! The run loop: one leased run driven through the AIDE steps of ARCHITECTURE §3 and §4
//! until a budget, a cancel request or the loss of the lease ends it.
//!
//! For each node: policy → prompt → gateway ([`Author`]) → parse → runner ([`Executor`]) →
//! review → metric rules → one persisted transition per stage → run events → outputs.
//! Each stage is one store write ([`aide_store::StageStore`]: the node with its event, the
//! generation with its ledger row, the attempt's result with the node file and the
//! transition, the review with its ledger row and event), and the engine keeps what it
//! wrote instead of reading it back.
//!
//! - **Ports.** [`Author`] and [`Executor`] keep the loop independent of transport;
//!   [`GrpcAuthor`] and [`crate::dispatch::RunnerExecutor`] are the gRPC adapters. Their errors are classified:
//!   infrastructure failures (unreachable, deadline, overloaded, runner lost, stream broken,
//!   the database briefly failing) are retried with bounded exponential backoff
//!   ([`Backoff`], 0.5 s → 30 s, forever until cancelled or the lease is lost), recorded as
//!   `infra_retry` events and never make a node buggy; a lost execution is abandoned and
//!   retried as a new attempt. Request errors fail the run (reviews: the node is flagged).
//! - **Resume.** A new owner loads the tree and carries every unreviewed node on from its
//!   last persisted stage (pending → generate, generated → execute, executed → review),
//!   before the policy creates new nodes, so the run ends with exactly `steps` nodes. The
//!   claim is recorded as `run_resumed` when the run had nodes, `run_started` otherwise.
//! - **Randomness.** Each `node_created` event (written before its node) holds the run
//!   generator's state after the decision; a resumed run continues from the newest node's
//!   state ([`events::Replayed`]), so the random sequence is the one a crash-free run uses.
//! - **Budgets** ([`budget`]): steps, wall-clock time since the run's first node, cost from
//!   the ledger. The first one exhausted finishes the run as completed with its reason.
//! - **Lease.** Renewed every ttl/3 in the background; a write refused as `LeaseLost` stops
//!   the loop at once without finishing the run; a cancel request finishes it as cancelled.
//!   Cancel requests and directives are noticed within a second: one engine-wide task reads
//!   the signals of all its runs in one query ([`signals::SignalWatch`]).
//! - **Steering** ([`steering`]): a person's directives (pin, prune, note, budget) are
//!   events; the loop takes them in, in order, when the watch says there are new ones, and
//!   a new owner replays them all from the log. A fork's first node is the forked node's
//!   code, executed without asking the author.
//! - **Submissions.** A submission an execution wrote is stored as a node file with the
//!   node's `executed` stage; the best node's file is read back when the best changes to a
//!   node whose bytes the engine does not hold, or a run is resumed.
//! - **Outputs.** Refreshed after every reviewed node off the loop's critical path
//!   ([`crate::outputs::OutputsWriter`]: the newest state is written in the background),
//!   and written once more, then `report.md`, when the run ends.
//! - **Report.** A run with outputs gets `report.md` when it ends; when it completes and its
//!   code model is not the baseline (and cost budget is left), the model writes a narrative
//!   for it first (`narrative`: purpose `report`, in the ledger; a failure is only a
//!   `report_failed` event).
//! - **Stopping.** Steps and cost let the nodes in flight finish; the time budget, a cancel
//!   request, shutdown and a lost lease abort them (a shutdown leaves them resumable).
//! - **Parallelism.** Up to `settings.workers` nodes in flight (a `JoinSet`); in-flight
//!   nodes count as children for the policy.

pub mod author;
pub mod budget;
pub mod context;
mod driver;
pub mod events;
mod narrative;
pub mod ports;
mod preview;
pub mod retry;
pub mod signals;
mod state;
pub mod steering;
mod step;
pub mod task_files;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aide_core::{RunId, TokenCounter};
use aide_store::{Lease, RunStatus, Store};
use aide_telemetry::Metrics;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use author::GrpcAuthor;
pub use ports::{
    Answer, Author, AuthorHints, AuthorReply, AuthorRequest, CallKind, Executed, Executor,
    FailureKind, GradingTarget, PortError, ScriptRun, TaskFacts,
};
pub use retry::{Backoff, Failure, Fatal, Transient};
pub use task_files::{LocalTasksOnly, ScriptInput, TaskFiles};

use crate::{Error, metrics};

/// How a call of [`Engine::drive`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// A budget ended the run; the reason is recorded on it.
    Completed { reason: String },
    /// A user's cancel request ended the run.
    Cancelled,
    /// The run could not go on (a request the gateway or a runner refuses).
    Failed { reason: String },
    /// Another replica owns the run now; nothing was finished.
    LeaseLost,
    /// The engine was told to stop; the lease was released for another owner to resume.
    Interrupted,
}

impl RunEnd {
    /// How a drive ended that finished its run with `status` and `reason`.
    pub fn of(status: RunStatus, reason: &str) -> Self {
        match status {
            RunStatus::Cancelled => Self::Cancelled,
            RunStatus::Failed => Self::Failed {
                reason: reason.to_owned(),
            },
            _ => Self::Completed {
                reason: reason.to_owned(),
            },
        }
    }
}

/// Settings of the engine itself (not of a run).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Lease time-to-live; renewed every third of it.
    pub lease_ttl: Duration,
    pub backoff: Backoff,
    /// Where run outputs are written (`<dir>/<run id>/`), when they are.
    pub output_dir: Option<PathBuf>,
    /// Writes the outputs straight into `output_dir` instead of `<dir>/<run id>/` (for a
    /// caller that drives one run with a directory of its own).
    pub outputs_in_place: bool,
    /// Called after every event the engine appends (e.g. to wake the run's watchers).
    pub on_event: Option<EventHook>,
    /// Where stored task bundles are read.
    pub task_files: TaskFilesPort,
    /// Where nodes, leases, retries and model calls are counted.
    pub metrics: Arc<Metrics>,
    /// Counts prompt tokens (the data preview's budget, every prompt's size in the ledger).
    pub tokens: TokenCounter,
}

/// The engine's [`TaskFiles`] port.
#[derive(Clone)]
pub struct TaskFilesPort(pub Arc<dyn TaskFiles>);

impl std::fmt::Debug for TaskFilesPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskFilesPort")
    }
}

impl Default for TaskFilesPort {
    fn default() -> Self {
        Self(Arc::new(LocalTasksOnly))
    }
}

/// A callback taking the id of a run that has a new event.
#[derive(Clone)]
pub struct EventHook(pub Arc<dyn Fn(RunId) + Send + Sync>);

impl EventHook {
    pub fn new(hook: impl Fn(RunId) + Send + Sync + 'static) -> Self {
        Self(Arc::new(hook))
    }
}

impl std::fmt::Debug for EventHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventHook")
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            lease_ttl: Duration::from_secs(60),
            backoff: Backoff::default(),
            output_dir: None,
            outputs_in_place: false,
            on_event: None,
            task_files: TaskFilesPort::default(),
            metrics: Metrics::new(),
            tokens: TokenCounter::new(),
        }
    }
}

/// Drives leased runs over a store, an author and an executor.
#[derive(Debug)]
pub struct Engine<S: Store, A: Author, E: Executor> {
    store: Arc<S>,
    author: Arc<A>,
    executor: Arc<E>,
    config: EngineConfig,
    /// The cancel requests and directives of every run this engine drives, read together.
    signals: Arc<signals::SignalWatch>,
}

impl<S: Store, A: Author, E: Executor> Engine<S, A, E> {
    /// The engine; starts loading the token counter's encoding in the background, so the
    /// first run's data preview does not wait for it.
    pub fn new(store: Arc<S>, author: Arc<A>, executor: Arc<E>, config: EngineConfig) -> Self {
        config.tokens.preload();
        Self {
            store,
            author,
            executor,
            config,
            signals: Arc::default(),
        }
    }

    /// Drives the run of `lease` until it ends or `cancel` fires (then the lease is
    /// released and the run stays resumable). Errors are internal failures only (corrupt
    /// data, a bug); the lease is released then too.
    pub async fn drive(&self, lease: Lease, cancel: CancellationToken) -> Result<RunEnd, Error> {
        let span = tracing::info_span!("run", run_id = %lease.run_id, epoch = lease.epoch);
        self.config.metrics.inc(&metrics::LEASE_CLAIMS, &[]);
        let heartbeat = Heartbeat::start(self.store.clone(), lease.clone(), self.config.lease_ttl);
        let signals = signals::RunSignals::new(heartbeat.cancel_requested.clone());
        let steered = signals.steered.subscribe();
        let _watching = self.signals.watch(&self.store, lease.run_id, signals);
        let result = driver::drive(self, lease.clone(), cancel, &heartbeat, steered)
            .instrument(span)
            .await;
        heartbeat.stop.cancel();
        match &result {
            Err(e) => {
                tracing::error!(run_id = %lease.run_id, error = %e, "run failed internally");
                count_engine_failure(&*self.store, &lease, &e.to_string()).await;
            }
            Ok(RunEnd::Interrupted) => {
                if let Err(e) = self.store.release_lease(&lease).await {
                    tracing::warn!(error = %e, "cannot release the lease");
                }
            }
            Ok(RunEnd::LeaseLost) => self.config.metrics.inc(&metrics::LEASE_LOSSES, &[]),
            Ok(_) => {}
        }
        result
    }
}

/// Internal failures of the engine (errors and panics, not a lost lease) a run may cause
/// before it ends FAILED instead of being claimed again.
pub const MAX_ENGINE_FAILURES: u32 = 3;

/// Counts an internal failure of the engine holding `lease`: the run ends FAILED with
/// `failure` at [`MAX_ENGINE_FAILURES`], and is released for another try below it.
pub async fn count_engine_failure<S: Store>(store: &S, lease: &Lease, failure: &str) {
    let counted = async {
        let failures = store.record_engine_failure(lease).await?;
        if failures >= MAX_ENGINE_FAILURES {
            let reason =
                format!("the engine failed {failures} times driving this run; last: {failure}");
            store.finish_run(lease, RunStatus::Failed, &reason).await?;
            tracing::error!(run_id = %lease.run_id, failures, "run ended as failed");
        } else {
            store.release_lease(lease).await?;
        }
        Ok::<_, aide_store::Error>(())
    };
    if let Err(e) = counted.await {
        tracing::warn!(run_id = %lease.run_id, error = %e, "cannot record the engine's failure");
    }
}

/// The background lease renewal of one drive.
#[derive(Debug)]
struct Heartbeat {
    /// Cancelled when a renewal says the lease is gone (or renewals failed for a whole ttl).
    lost: CancellationToken,
    /// Cancelled when a renewal reports a cancel request.
    cancel_requested: CancellationToken,
    stop: CancellationToken,
}

impl Heartbeat {
    fn start<S: Store>(store: Arc<S>, lease: Lease, ttl: Duration) -> Self {
        let hb = Self {
            lost: CancellationToken::new(),
            cancel_requested: CancellationToken::new(),
            stop: CancellationToken::new(),
        };
        let (lost, requested, stop) = (
            hb.lost.clone(),
            hb.cancel_requested.clone(),
            hb.stop.clone(),
        );
        let every = (ttl / 3).max(Duration::from_millis(50));
        // A failed renewal is tried again soon; the lease is lost after a whole ttl of them.
        let again = every.min(signals::SIGNAL_CHECK_EVERY);
        tokio::spawn(
            async move {
                let mut last_ok = tokio::time::Instant::now();
                loop {
                    let wait = match store.renew_lease(&lease, ttl).await {
                        Ok(status) => {
                            last_ok = tokio::time::Instant::now();
                            if status.cancel_requested {
                                requested.cancel();
                            }
                            every
                        }
                        Err(aide_store::Error::LeaseLost { .. }) => {
                            lost.cancel();
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "lease renewal failed");
                            if last_ok.elapsed() >= ttl {
                                lost.cancel();
                                return;
                            }
                            again
                        }
                    };
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
            .in_current_span(),
        );
        hb
    }
}

//! The run supervisor of one replica: it claims runs from the store while fewer than
//! `max_runs` are active (every `claim_every`, and at once after a run ends) and drives each
//! claimed lease with [`Engine::drive`] in its own task, under a child cancellation token.
//!
//! There is no separate lease reaper: `claim_run` also takes runs whose lease expired, so a
//! crashed replica's runs are resumed by whichever replica claims next. On shutdown the
//! supervisor stops claiming, cancels every engine (each releases its lease, ending as
//! [`RunEnd::Interrupted`]) and waits for them.
//!
//! An engine that fails internally costs its run one of [`MAX_ENGINE_FAILURES`] (the engine
//! counts its own errors; the supervisor counts its panics): below it the lease is released
//! for another try, at it the run ends FAILED with the last error, so a run that breaks the
//! engine is never re-claimed in a loop.

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use aide_store::{Lease, Store};
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use crate::engine::MAX_ENGINE_FAILURES;
use crate::engine::{Author, Engine, Executor, RunEnd, count_engine_failure};

/// Settings of the supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// The lease owner id of this replica.
    pub owner: String,
    /// Runs driven at once.
    pub max_runs: usize,
    /// Lease time-to-live given to `claim_run` (the engine renews with its own setting).
    pub lease_ttl: Duration,
    /// How often to look for claimable runs while below `max_runs`.
    pub claim_every: Duration,
}

/// Claims runs and drives them until shut down.
#[derive(Debug)]
pub struct Supervisor<S: Store, A: Author, E: Executor> {
    store: Arc<S>,
    engine: Arc<Engine<S, A, E>>,
    config: SupervisorConfig,
}

impl<S: Store, A: Author, E: Executor> Supervisor<S, A, E> {
    pub fn new(store: Arc<S>, engine: Arc<Engine<S, A, E>>, config: SupervisorConfig) -> Self {
        Self {
            store,
            engine,
            config,
        }
    }

    /// Claims and drives runs until `shutdown` fires, then interrupts the active runs and
    /// returns once every engine has stopped (their leases released).
    pub async fn run(self, shutdown: CancellationToken) {
        let span = tracing::info_span!("supervisor", owner = %self.config.owner);
        self.run_inner(shutdown).instrument(span).await;
    }

    async fn run_inner(self, shutdown: CancellationToken) {
        let engines = CancellationToken::new();
        let mut active: JoinSet<Result<RunEnd, crate::Error>> = JoinSet::new();
        let mut leases: HashMap<Id, Lease> = HashMap::new();
        tracing::info!(max_runs = self.config.max_runs, "supervisor claiming runs");
        loop {
            while active.len() < self.config.max_runs && !shutdown.is_cancelled() {
                match self
                    .store
                    .claim_run(&self.config.owner, self.config.lease_ttl)
                    .await
                {
                    Ok(Some(lease)) => {
                        tracing::info!(run_id = %lease.run_id, epoch = lease.epoch, "claimed a run");
                        let engine = self.engine.clone();
                        let cancel = engines.child_token();
                        let driven = lease.clone();
                        let task = active.spawn(
                            async move { engine.drive(driven, cancel).await }.in_current_span(),
                        );
                        leases.insert(task.id(), lease);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim runs");
                        break;
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(joined) = active.join_next_with_id(), if !active.is_empty() => {
                    self.ended(joined, &mut leases).await;
                }
                () = tokio::time::sleep(self.config.claim_every) => {}
            }
        }
        tracing::info!(
            active = active.len(),
            "supervisor stopping: interrupting runs"
        );
        engines.cancel();
        while let Some(joined) = active.join_next_with_id().await {
            self.ended(joined, &mut leases).await;
        }
        tracing::info!("supervisor stopped");
    }

    /// Logs how a drive ended; a panic is counted against its run (the engine counts its
    /// own errors).
    async fn ended(
        &self,
        joined: Result<(Id, Result<RunEnd, crate::Error>), tokio::task::JoinError>,
        leases: &mut HashMap<Id, Lease>,
    ) {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let Some(lease) = leases.remove(&id) else {
            return;
        };
        match joined {
            Ok((_, Ok(end))) => {
                tracing::info!(run_id = %lease.run_id, ?end, "run left this replica")
            }
            Ok((_, Err(_))) => {}
            Err(e) => {
                tracing::error!(run_id = %lease.run_id, error = %e, "the engine panicked");
                count_engine_failure(&*self.store, &lease, &format!("the engine panicked: {e}"))
                    .await;
            }
        }
    }
}

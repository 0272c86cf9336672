//! Benchmark sweeps on a replica: the [`SweepPump`] keeps every running sweep moving —
//! it stops a sweep whose budget is spent ([`budget`]), starts queued cells as runs within
//! the sweep's `cells_at_once` and the live runners' slots (the supervisor then claims those
//! runs like any other),
//! grades each cell whose run ended ([`grading`], or the task's own grading command in a
//! sandbox, [`command`]) and completes a sweep whose cells all have their outcome. Every
//! replica runs a pump; the store serialises them (ARCHITECTURE §11).

pub mod budget;
pub mod command;
pub mod grading;

use std::sync::Arc;
use std::time::Duration;

use aide_core::sweep::{SweepId, SweepStatus};
use aide_store::{GradingClaim, Store};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::blobs::BlobStore;
use crate::engine::Executor;

/// Settings of a replica's pump.
#[derive(Debug, Clone)]
pub struct PumpConfig {
    /// The replica's owner id (grading claims carry it).
    pub owner: String,
    /// How often running sweeps are looked at.
    pub every: Duration,
    /// How long a grading claim lasts; renewed every third of it while grading runs.
    pub grading_ttl: Duration,
    /// A runner silent this long does not count towards the slots cells may use.
    pub runners_stale_after: Duration,
    /// Cells graded at once (grading commands run for as long as their time limit, and
    /// never hold up starting cells or the budget checks).
    pub max_gradings: usize,
}

impl PumpConfig {
    pub fn new(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            every: Duration::from_secs(1),
            grading_ttl: Duration::from_secs(30),
            runners_stale_after: Duration::from_secs(30),
            max_gradings: 4,
        }
    }
}

/// Moves the running sweeps along; see the module documentation.
#[derive(Debug)]
pub struct SweepPump<S: Store, E: Executor> {
    inner: Arc<Inner<S, E>>,
    /// The gradings in flight, each in a task of its own.
    gradings: std::sync::Mutex<JoinSet<()>>,
}

#[derive(Debug)]
struct Inner<S: Store, E: Executor> {
    store: Arc<S>,
    grader: grading::Grader<S, E>,
    config: PumpConfig,
}

impl<S: Store, E: Executor> SweepPump<S, E> {
    pub fn new(store: Arc<S>, blobs: BlobStore, executor: Arc<E>, config: PumpConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                grader: grading::Grader::new(store.clone(), blobs, executor),
                store,
                config,
            }),
            gradings: std::sync::Mutex::default(),
        }
    }

    /// Runs until `shutdown`; gradings in flight are abandoned (their claims expire and
    /// another replica grades the cells).
    pub async fn run(self, shutdown: CancellationToken) {
        let span = tracing::info_span!("sweeps", owner = %self.inner.config.owner);
        async {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = self.tick() => {}
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(self.inner.config.every) => {}
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// One pass: every running sweep, then the cells waiting to be graded, each graded in
    /// a task of its own (at most `max_gradings` at once).
    pub async fn tick(&self) {
        let inner = &self.inner;
        let slots = inner.runner_slots().await;
        match inner.store.running_sweeps().await {
            Ok(sweeps) => {
                for id in sweeps {
                    if let Err(e) = inner.advance(id, slots).await {
                        tracing::warn!(sweep_id = %id, error = %e, "cannot advance a sweep");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list running sweeps"),
        }
        while self.grading_room() {
            match inner
                .store
                .claim_grading(&inner.config.owner, inner.config.grading_ttl)
                .await
            {
                Ok(Some(claim)) => {
                    let inner = inner.clone();
                    let grading = async move { inner.grade(claim).await }.in_current_span();
                    lock(&self.gradings).spawn(grading);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a cell to grade");
                    break;
                }
            }
        }
    }

    /// True when fewer than `max_gradings` gradings are in flight (the ended ones reaped).
    fn grading_room(&self) -> bool {
        let mut gradings = lock(&self.gradings);
        while gradings.try_join_next().is_some() {}
        gradings.len() < self.inner.config.max_gradings
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S: Store, E: Executor> Inner<S, E> {
    /// Stops the sweep when a budget is spent; otherwise starts what its budget allows and
    /// completes it when every cell has its outcome.
    async fn advance(&self, id: SweepId, slots: u32) -> Result<(), aide_store::Error> {
        let sweep = self.store.get_sweep(id).await?;
        let cost = self.store.sweep_cost(id).await?;
        if let Some(reason) = budget::spent(&sweep, cost, chrono::Utc::now()) {
            tracing::info!(sweep_id = %id, %reason, "sweep stopped");
            self.store
                .stop_sweep(id, SweepStatus::Stopped, &reason)
                .await?;
            return Ok(());
        }
        let started = self.store.start_cells(id, slots).await?;
        if !started.is_empty() {
            tracing::info!(sweep_id = %id, runs = started.len(), "started cells");
        }
        if self.store.complete_sweep(id).await? {
            tracing::info!(sweep_id = %id, "sweep completed");
        }
        Ok(())
    }

    /// The slots of the live runners: no more cells of a sweep are in progress than there
    /// are slots to run their scripts (more would only wait for a slot and retry). Without
    /// the registry's answer, no limit.
    async fn runner_slots(&self) -> u32 {
        match self
            .store
            .live_runners(self.config.runners_stale_after)
            .await
        {
            Ok(runners) => runners
                .iter()
                .map(|r| r.info.slots)
                .fold(0u32, u32::saturating_add),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the live runners");
                u32::MAX
            }
        }
    }

    /// Grades one claimed cell, renewing the claim while the grading runs. An
    /// infrastructure failure leaves the claim to expire, so the cell is graded again.
    async fn grade(&self, claim: GradingClaim) {
        let span = tracing::info_span!("grade", sweep_id = %claim.sweep_id, cell = claim.index);
        let renew_every = self.config.grading_ttl / 3;
        let grading = self.grader.grade(&claim).instrument(span.clone());
        tokio::pin!(grading);
        let outcome = loop {
            tokio::select! {
                outcome = &mut grading => break outcome,
                () = tokio::time::sleep(renew_every) => {
                    if let Err(e) = self.store.renew_grading(&claim, self.config.grading_ttl).await {
                        tracing::warn!(parent: &span, error = %e, "grading claim lost");
                        return;
                    }
                }
            }
        };
        match outcome {
            Ok(outcome) => {
                tracing::info!(parent: &span, ?outcome, "cell graded");
                if let Err(e) = self.store.finish_cell(&claim, outcome).await {
                    tracing::warn!(parent: &span, error = %e, "cannot record a grade");
                }
            }
            Err(e) => tracing::warn!(parent: &span, error = %e, "grading failed; retried later"),
        }
    }
}

//! The Postgres implementation of [`Store`](crate::Store): connection, migrations, the lease
//! fence shared by every run-loop write, and the trait impl delegating to one module per table.
//!
//! Fenced writes put the fence into the write statement itself:
//! `EXISTS (SELECT 1 FROM runs WHERE id = $1 AND owner = $2 AND epoch = $3 AND status =
//! 'running' FOR SHARE)`. The share lock makes a concurrent claim (an `UPDATE` of the run
//! row) wait for the write to commit, and a write that waited on a claim re-checks the
//! fence against the claimed row, so no write of an old epoch lands after a new owner took
//! the run.

mod events;
mod executions;
mod llm;
mod nodes;
mod runners;
mod runs;

use std::time::Duration;

use aide_core::{Direction, NodeId, RunId};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::types::{
    ExecutionRecord, ExecutionResult, ExecutionSummary, Generation, Lease, LeaseStatus, NewLlmCall,
    NewNode, NewRun, NodeRecord, Review, RunEvent, RunFilter, RunRecord, RunStatus, RunnerInfo,
    RunnerLoad, RunnerRecord, Usage, to_i64,
};

/// The migrations under `migrations/postgres`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The lease fence for Postgres statements whose first three parameters are the lease's
/// run id, owner and epoch.
macro_rules! pg_fence {
    () => {
        "EXISTS (SELECT 1 FROM runs WHERE runs.id = $1 AND runs.owner = $2 AND runs.epoch = $3 \
         AND runs.status = 'running' FOR SHARE)"
    };
}
pub(crate) use pg_fence;

/// A [`Store`] on Postgres.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects with a pool of up to 10 connections and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(Error::Database)?;
        Self::from_pool(pool).await
    }

    /// Wraps an existing pool and applies pending migrations (concurrent callers serialise
    /// on the migrator's advisory lock).
    pub async fn from_pool(pool: PgPool) -> Result<Self> {
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The lease as bind values: run id, owner, epoch.
pub(crate) fn lease_binds(lease: &Lease) -> Result<(uuid::Uuid, String, i64)> {
    Ok((
        lease.run_id.0,
        lease.owner.clone(),
        to_i64(lease.epoch, "epoch")?,
    ))
}

/// Whether the lease still holds (no lock; used to explain a refused write).
pub(crate) async fn lease_holds<'e, E>(executor: E, lease: &Lease) -> Result<bool>
where
    E: sqlx::PgExecutor<'e>,
{
    let (run, owner, epoch) = lease_binds(lease)?;
    let holds: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1 AND owner = $2 AND epoch = $3 \
         AND status = 'running')",
    )
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .fetch_one(executor)
    .await?;
    Ok(holds)
}

/// Takes the fence inside a transaction: a share lock on the run row while it is held.
pub(crate) async fn lock_fence(tx: &mut sqlx::PgConnection, lease: &Lease) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let row = sqlx::query(concat!("SELECT 1 AS one WHERE ", pg_fence!()))
        .bind(run)
        .bind(owner)
        .bind(epoch)
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        Some(_) => Ok(()),
        None => Err(lease_lost(lease)),
    }
}

pub(crate) fn lease_lost(lease: &Lease) -> Error {
    Error::LeaseLost {
        run_id: lease.run_id,
        epoch: lease.epoch,
    }
}

/// `Duration` as the `float8` milliseconds the SQL multiplies with `interval '1 millisecond'`.
pub(crate) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub(crate) type Ts = DateTime<Utc>;

impl Store for PgStore {
    async fn create_run(&self, run: NewRun) -> Result<RunRecord> {
        runs::create_run(&self.pool, run).await
    }

    async fn get_run(&self, run_id: RunId) -> Result<RunRecord> {
        runs::get_run(&self.pool, run_id).await
    }

    async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunRecord>> {
        runs::list_runs(&self.pool, filter).await
    }

    async fn request_cancel(&self, run_id: RunId) -> Result<RunRecord> {
        runs::request_cancel(&self.pool, run_id).await
    }

    async fn claim_run(&self, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        runs::claim_run(&self.pool, owner, ttl).await
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<LeaseStatus> {
        runs::renew_lease(&self.pool, lease, ttl).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        runs::release_lease(&self.pool, lease).await
    }

    async fn finish_run(
        &self,
        lease: &Lease,
        status: RunStatus,
        reason: &str,
    ) -> Result<RunRecord> {
        runs::finish_run(&self.pool, lease, status, reason).await
    }

    async fn fix_direction(&self, lease: &Lease, direction: Direction) -> Result<Direction> {
        runs::fix_direction(&self.pool, lease, direction).await
    }

    async fn insert_node(&self, lease: &Lease, node: NewNode) -> Result<NodeRecord> {
        nodes::insert_node(&self.pool, lease, node).await
    }

    async fn insert_nodes(&self, lease: &Lease, nodes: &[NewNode]) -> Result<()> {
        nodes::insert_nodes(&self.pool, lease, nodes).await
    }

    async fn mark_generated(
        &self,
        lease: &Lease,
        node: NodeId,
        generation: Generation,
    ) -> Result<()> {
        nodes::mark_generated(&self.pool, lease, node, generation).await
    }

    async fn mark_executed(
        &self,
        lease: &Lease,
        node: NodeId,
        execution: ExecutionSummary,
    ) -> Result<()> {
        nodes::mark_executed(&self.pool, lease, node, execution).await
    }

    async fn mark_reviewed(&self, lease: &Lease, node: NodeId, review: Review) -> Result<()> {
        nodes::mark_reviewed(&self.pool, lease, node, review).await
    }

    async fn get_node(&self, node: NodeId) -> Result<NodeRecord> {
        nodes::get_node(&self.pool, node).await
    }

    async fn load_tree(&self, run_id: RunId) -> Result<Vec<NodeRecord>> {
        nodes::load_tree(&self.pool, run_id).await
    }

    async fn start_execution(&self, lease: &Lease, node: NodeId) -> Result<u32> {
        executions::start_execution(&self.pool, lease, node).await
    }

    async fn finish_execution(
        &self,
        node: NodeId,
        attempt: u32,
        result: ExecutionResult,
    ) -> Result<ExecutionRecord> {
        executions::finish_execution(&self.pool, node, attempt, result).await
    }

    async fn abandon_execution(&self, node: NodeId, attempt: u32, reason: &str) -> Result<()> {
        executions::abandon_execution(&self.pool, node, attempt, reason).await
    }

    async fn list_executions(&self, node: NodeId) -> Result<Vec<ExecutionRecord>> {
        executions::list_executions(&self.pool, node).await
    }

    async fn record_llm_call(&self, call: NewLlmCall) -> Result<i64> {
        llm::record_llm_call(&self.pool, call).await
    }

    async fn run_usage(&self, run_id: RunId) -> Result<Usage> {
        llm::run_usage(&self.pool, run_id).await
    }

    async fn append_event(
        &self,
        run_id: RunId,
        kind: &str,
        payload: serde_json::Value,
    ) -> Result<u64> {
        events::append_event(&self.pool, run_id, kind, payload).await
    }

    async fn events_after(
        &self,
        run_id: RunId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<RunEvent>> {
        events::events_after(&self.pool, run_id, after_seq, limit).await
    }

    async fn register_runner(&self, runner: RunnerInfo) -> Result<()> {
        runners::register_runner(&self.pool, runner).await
    }

    async fn heartbeat_runner(&self, runner_id: &str, load: RunnerLoad) -> Result<()> {
        runners::heartbeat_runner(&self.pool, runner_id, load).await
    }

    async fn deregister_runner(&self, runner_id: &str) -> Result<bool> {
        runners::deregister_runner(&self.pool, runner_id).await
    }

    async fn live_runners(&self, stale_after: Duration) -> Result<Vec<RunnerRecord>> {
        runners::live_runners(&self.pool, stale_after).await
    }

    async fn remove_stale_runners(&self, stale_after: Duration) -> Result<Vec<String>> {
        runners::remove_stale_runners(&self.pool, stale_after).await
    }
}

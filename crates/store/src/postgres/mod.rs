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
mod files;
mod llm;
mod nodes;
mod runners;
mod runs;

use std::time::Duration;

use aide_core::{Direction, NodeId, RunEvent, RunId};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::error::{Error, Result};
use crate::types::{
    EventRecord, ExecutionRecord, ExecutionResult, ExecutionSummary, Generation, Lease,
    LeaseStatus, NewLlmCall, NewNode, NewRun, NodeRecord, Review, RunFilter, RunRecord, RunStatus,
    RunnerInfo, RunnerLoad, RunnerRecord, Usage, to_i64,
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

crate::delegate::impl_store_via_pool_functions!(PgStore);

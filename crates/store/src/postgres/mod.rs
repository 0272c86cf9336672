//! The Postgres implementation of the store traits: connection, migrations, the lease
//! fence shared by every run-loop write, and how a Postgres row reads; each trait is
//! implemented in the module of its concern, with its SQL in `sql/postgres/<concern>/`.
//!
//! Fenced writes put the fence into the write statement itself:
//! `EXISTS (SELECT 1 FROM runs WHERE id = $1 AND owner = $2 AND epoch = $3 AND status =
//! 'running' FOR SHARE)`. The share lock makes a concurrent claim (an `UPDATE` of the run
//! row) wait for the write to commit, and a write that waited on a claim re-checks the
//! fence against the claimed row, so no write of an old epoch lands after a new owner took
//! the run.

mod access;
mod events;
mod executions;
mod ledger;
mod nodes;
mod runners;
mod runs;
mod stages;
mod sweeps;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use uuid::Uuid;

use aide_core::{NodeId, NodeStage};

use crate::decode::{self, DbRow, Plain};
use crate::error::{Error, Result};
use crate::refusal::Explain;
use crate::types::{Lease, to_i64, to_u32};

/// The migrations under `migrations/postgres`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// A [`Store`](crate::Store) on Postgres.
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

impl Explain for PgStore {
    async fn lease_holds(&self, lease: &Lease) -> Result<bool> {
        let row = fenced(include_str!("../../sql/postgres/lease/holds.sql"), lease)?
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn node_stage(&self, lease: &Lease, node: NodeId) -> Result<Option<(NodeStage, bool)>> {
        sqlx::query(include_str!("../../sql/postgres/nodes/stage.sql"))
            .bind(node.0)
            .bind(lease.run_id.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| decode::stage(&row))
            .transpose()
    }

    async fn attempt_exists(&self, node: NodeId, attempt: u32) -> Result<bool> {
        Ok(
            sqlx::query_scalar(include_str!("../../sql/postgres/executions/exists.sql"))
                .bind(node.0)
                .bind(attempt_i32(node, attempt)?)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// An attempt number as the `integer` column holds it; one beyond is stale by definition.
fn attempt_i32(node: NodeId, attempt: u32) -> Result<i32> {
    i32::try_from(attempt).map_err(|_| Error::StaleAttempt {
        node_id: node,
        attempt,
    })
}

type PgQuery = Query<'static, sqlx::Postgres, PgArguments>;

/// `sql` with the lease bound as its first three parameters: run id, owner, epoch.
fn fenced(sql: &'static str, lease: &Lease) -> Result<PgQuery> {
    Ok(sqlx::query(sql)
        .bind(lease.run_id.0)
        .bind(&lease.owner)
        .bind(to_i64(lease.epoch, "epoch")?))
}

/// Takes the fence inside a transaction: a share lock on the run row while it is held.
async fn lock_fence(tx: &mut sqlx::PgConnection, lease: &Lease) -> Result<()> {
    fenced(include_str!("../../sql/postgres/lease/lock.sql"), lease)?
        .fetch_optional(&mut *tx)
        .await?
        .map(drop)
        .ok_or_else(|| lease.lost())
}

/// `Duration` as the `float8` milliseconds the SQL multiplies with `interval '1 millisecond'`.
fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A 32-bit `integer` column's value.
fn int4(value: u32, what: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::InvalidArgument(format!("{what} {value} is too large")))
}

impl DbRow for PgRow {
    fn value<T: Plain>(&self, col: &str) -> Result<T> {
        Ok(self.try_get(col)?)
    }

    fn count(&self, col: &str) -> Result<u32> {
        to_u32(i64::from(self.try_get::<i32, _>(col)?), col)
    }

    fn opt_id(&self, col: &str) -> Result<Option<Uuid>> {
        Ok(self.try_get(col)?)
    }

    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.try_get(col)?)
    }

    fn opt_json(&self, col: &str) -> Result<Option<serde_json::Value>> {
        Ok(self.try_get(col)?)
    }
}

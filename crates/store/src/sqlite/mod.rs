//! The SQLite implementation of the store traits: opening the database file (WAL, foreign
//! keys, busy timeout), migrations, the lease fence shared by the statements, and how an
//! SQLite row reads; each trait is implemented in the module of its concern, with its SQL
//! in `sql/sqlite/<concern>/`.
//!
//! SQLite has a single writer. Fenced writes are single statements whose `WHERE` checks the
//! lease (`EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND
//! status = 'running')`); a write statement takes the write lock before it reads, so the
//! check and the write are atomic. Multi-statement writes run in `BEGIN IMMEDIATE`
//! transactions, which take the write lock up front (and wait for it under the busy timeout).
//!
//! Times are integer milliseconds since the Unix epoch from the database clock
//! (`CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)` in the statements); ids are
//! hyphenated UUID text and JSON is text.
//!
//! Writes with `RETURNING` are read with `fetch_all` ([`returning`]): sqlx's SQLite
//! `fetch_one` and `fetch_optional` stop stepping after the first row, which would hide a
//! constraint error raised when the statement completes.

mod access;
mod events;
mod executions;
mod ledger;
mod nodes;
mod runners;
mod runs;
mod stages;
mod sweeps;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use uuid::Uuid;

use aide_core::{NodeId, NodeStage};

use crate::decode::{self, DbRow, Plain};
use crate::error::{Error, Result};
use crate::refusal::Explain;
use crate::types::{Lease, to_i64, to_u32};

/// The migrations under `migrations/sqlite`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a connection waits for the write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`Store`](crate::Store) on an SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite:path/to/file.db`,
    /// `sqlite://...` or `sqlite::memory:`) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(Error::Database)?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::connect_with(options, in_memory).await
    }

    /// Opens the database file at `path`, creating it if missing.
    pub async fn open(path: &std::path::Path) -> Result<Self> {
        Self::connect_with(SqliteConnectOptions::new().filename(path), false).await
    }

    async fn connect_with(options: SqliteConnectOptions, in_memory: bool) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // An in-memory database lives and dies with its one connection.
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(8)
        };
        let pool = pool_options
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(Error::Database)?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction that holds the write lock from its first statement.
    async fn begin_immediate(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

type SqliteQuery = Query<'static, sqlx::Sqlite, SqliteArguments>;

impl Explain for SqliteStore {
    async fn lease_holds(&self, lease: &Lease) -> Result<bool> {
        lease_holds(&self.pool, lease).await
    }

    async fn node_stage(&self, lease: &Lease, node: NodeId) -> Result<Option<(NodeStage, bool)>> {
        node_stage(&self.pool, lease, node).await
    }

    async fn attempt_exists(&self, node: NodeId, attempt: u32) -> Result<bool> {
        Ok(
            sqlx::query_scalar(include_str!("../../sql/sqlite/executions/exists.sql"))
                .bind(id_text(node.0))
                .bind(i64::from(attempt))
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// Whether the lease still holds, read on `executor` (a pool or an open transaction).
async fn lease_holds<'e>(executor: impl sqlx::SqliteExecutor<'e>, lease: &Lease) -> Result<bool> {
    let row = fenced(include_str!("../../sql/sqlite/lease/holds.sql"), lease)?
        .fetch_one(executor)
        .await?;
    Ok(row.try_get(0)?)
}

/// The stage of `node` in the lease's run and whether it has code, read on `executor`.
async fn node_stage<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    lease: &Lease,
    node: NodeId,
) -> Result<Option<(NodeStage, bool)>> {
    sqlx::query(include_str!("../../sql/sqlite/nodes/stage.sql"))
        .bind(id_text(node.0))
        .bind(id_text(lease.run_id.0))
        .fetch_optional(executor)
        .await?
        .map(|row| decode::stage(&row))
        .transpose()
}

/// `sql` with the lease bound as its first three parameters: run id, owner, epoch.
fn fenced(sql: &'static str, lease: &Lease) -> Result<SqliteQuery> {
    Ok(sqlx::query(sql)
        .bind(id_text(lease.run_id.0))
        .bind(&lease.owner)
        .bind(to_i64(lease.epoch, "epoch")?))
}

/// Runs a statement with `RETURNING` to completion and gives its last row, if any.
async fn returning<'e>(
    query: SqliteQuery,
    executor: impl sqlx::SqliteExecutor<'e>,
) -> Result<Option<SqliteRow>> {
    Ok(query.fetch_all(executor).await?.pop())
}

fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

/// Milliseconds of a TTL or staleness window, as the SQL adds them to the clock.
fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl DbRow for SqliteRow {
    fn value<T: Plain>(&self, col: &str) -> Result<T> {
        Ok(self.try_get(col)?)
    }

    fn count(&self, col: &str) -> Result<u32> {
        to_u32(self.try_get(col)?, col)
    }

    fn opt_id(&self, col: &str) -> Result<Option<Uuid>> {
        let Some(text) = self.try_get::<Option<&str>, _>(col)? else {
            return Ok(None);
        };
        Uuid::parse_str(text)
            .map(Some)
            .map_err(|_| Error::corrupt(format!("{col} {text:?} is not a UUID")))
    }

    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        let Some(ms) = self.try_get::<Option<i64>, _>(col)? else {
            return Ok(None);
        };
        DateTime::from_timestamp_millis(ms)
            .map(Some)
            .ok_or_else(|| Error::corrupt(format!("{col} {ms} is out of range")))
    }

    fn opt_json(&self, col: &str) -> Result<Option<serde_json::Value>> {
        let Some(text) = self.try_get::<Option<&str>, _>(col)? else {
            return Ok(None);
        };
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| Error::corrupt(format!("{col}: {e}")))
    }
}

//! The SQLite implementation of [`Store`](crate::Store): opening the database file (WAL,
//! foreign keys, busy timeout), migrations, the clock and lease fence shared by the
//! statements, and the trait impl delegating to one module per table.
//!
//! SQLite has a single writer. Fenced writes are single statements whose `WHERE` checks the
//! lease (`EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND
//! status = 'running')`); a write statement takes the write lock before it reads, so the
//! check and the write are atomic. Multi-statement writes run in `BEGIN IMMEDIATE`
//! transactions, which take the write lock up front (and wait for it under the busy timeout).
//!
//! Times are integer milliseconds since the Unix epoch from the database clock.
//!
//! Writes with `RETURNING` are read with `fetch_all`: sqlx's SQLite `fetch_one` and
//! `fetch_optional` stop stepping after the first row, which would hide a constraint error
//! raised when the statement completes.

mod events;
mod executions;
mod files;
mod llm;
mod nodes;
mod runners;
mod runs;

use std::str::FromStr;
use std::time::Duration;

use aide_core::{Direction, NodeId, RunEvent, RunId};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{Error, Result};
use crate::types::{
    EventRecord, ExecutionRecord, ExecutionResult, ExecutionSummary, Generation, Lease,
    LeaseStatus, NewLlmCall, NewNode, NewRun, NodeRecord, Review, RunFilter, RunRecord, RunStatus,
    RunnerInfo, RunnerLoad, RunnerRecord, Usage, to_i64,
};

/// The migrations under `migrations/sqlite`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The database clock: integer milliseconds since the Unix epoch, UTC. Stable within one
/// statement.
macro_rules! now_ms {
    () => {
        "CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)"
    };
}
pub(crate) use now_ms;

/// The lease fence for statements whose first three parameters are the lease's run id,
/// owner and epoch.
macro_rules! sqlite_fence {
    () => {
        "EXISTS (SELECT 1 FROM runs WHERE runs.id = ?1 AND runs.owner = ?2 AND runs.epoch = ?3 \
         AND runs.status = 'running')"
    };
}
pub(crate) use sqlite_fence;

/// How long a connection waits for the write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`Store`] on an SQLite database file.
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
}

/// Starts a transaction that holds the write lock from its first statement.
pub(crate) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

pub(crate) fn id_text(id: uuid::Uuid) -> String {
    id.hyphenated().to_string()
}

pub(crate) fn parse_uuid(text: &str, what: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| Error::corrupt(format!("{what} {text:?} is not a UUID")))
}

/// The lease as bind values: run id, owner, epoch.
pub(crate) fn lease_binds(lease: &Lease) -> Result<(String, String, i64)> {
    Ok((
        id_text(lease.run_id.0),
        lease.owner.clone(),
        to_i64(lease.epoch, "epoch")?,
    ))
}

/// Whether the lease still holds (used to explain a refused write).
pub(crate) async fn lease_holds<'e, E>(executor: E, lease: &Lease) -> Result<bool>
where
    E: sqlx::SqliteExecutor<'e>,
{
    let (run, owner, epoch) = lease_binds(lease)?;
    let holds: bool = sqlx::query_scalar(concat!("SELECT ", sqlite_fence!()))
        .bind(run)
        .bind(owner)
        .bind(epoch)
        .fetch_one(executor)
        .await?;
    Ok(holds)
}

pub(crate) fn lease_lost(lease: &Lease) -> Error {
    Error::LeaseLost {
        run_id: lease.run_id,
        epoch: lease.epoch,
    }
}

pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| Error::corrupt(format!("timestamp {ms} is out of range")))
}

pub(crate) fn opt_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    ms.map(time).transpose()
}

pub(crate) fn json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

pub(crate) fn parse_json(text: &str, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::corrupt(format!("{what}: {e}")))
}

pub(crate) fn ms(duration: Duration) -> i64 {
    crate::types::millis(duration)
}

crate::delegate::impl_store_via_pool_functions!(SqliteStore);

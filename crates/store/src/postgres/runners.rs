//! Postgres: the `runners` registry — registration, heartbeats with load, the live set
//! ordered least loaded first, and removal of silent runners.

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use super::ms;
use crate::error::{Error, Result};
use crate::types::{RunnerInfo, RunnerLoad, RunnerRecord, to_u32};

fn runner_from_row(row: &PgRow) -> Result<RunnerRecord> {
    let count =
        |name: &str| -> Result<u32> { to_u32(i64::from(row.try_get::<i32, _>(name)?), name) };
    Ok(RunnerRecord {
        info: RunnerInfo {
            id: row.try_get("id")?,
            address: row.try_get("address")?,
            slots: count("slots")?,
            labels: row.try_get("labels")?,
        },
        load: RunnerLoad {
            free_slots: count("free_slots")?,
            running: count("running")?,
            cpu_load: row.try_get("cpu_load")?,
            memory_load: row.try_get("memory_load")?,
        },
        registered_at: row.try_get("registered_at")?,
        last_heartbeat_at: row.try_get("last_heartbeat_at")?,
    })
}

fn count(value: u32, what: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::InvalidArgument(format!("{what} {value} is too large")))
}

pub(super) async fn register_runner(pool: &PgPool, runner: RunnerInfo) -> Result<()> {
    sqlx::query(
        "INSERT INTO runners (id, address, slots, labels, free_slots, running, cpu_load, memory_load, \
             registered_at, last_heartbeat_at) \
         VALUES ($1, $2, $3, $4, $3, 0, 0, 0, now(), now()) \
         ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, slots = EXCLUDED.slots, \
             labels = EXCLUDED.labels, free_slots = EXCLUDED.slots, running = 0, cpu_load = 0, \
             memory_load = 0, registered_at = now(), last_heartbeat_at = now()",
    )
    .bind(&runner.id)
    .bind(&runner.address)
    .bind(count(runner.slots, "slots")?)
    .bind(&runner.labels)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn heartbeat_runner(
    pool: &PgPool,
    runner_id: &str,
    load: RunnerLoad,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE runners SET free_slots = $2, running = $3, cpu_load = $4, memory_load = $5, \
             last_heartbeat_at = now() \
         WHERE id = $1",
    )
    .bind(runner_id)
    .bind(count(load.free_slots, "free slots")?)
    .bind(count(load.running, "running executions")?)
    .bind(load.cpu_load)
    .bind(load.memory_load)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("runner", runner_id));
    }
    Ok(())
}

pub(super) async fn deregister_runner(pool: &PgPool, runner_id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM runners WHERE id = $1")
        .bind(runner_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn live_runners(
    pool: &PgPool,
    stale_after: Duration,
) -> Result<Vec<RunnerRecord>> {
    let rows = sqlx::query(
        "SELECT id, address, slots, labels, free_slots, running, cpu_load, memory_load, registered_at, \
             last_heartbeat_at \
         FROM runners WHERE last_heartbeat_at > now() - $1::float8 * interval '1 millisecond' \
         ORDER BY free_slots DESC, cpu_load, memory_load, id",
    )
    .bind(ms(stale_after))
    .fetch_all(pool)
    .await?;
    rows.iter().map(runner_from_row).collect()
}

pub(super) async fn remove_stale_runners(
    pool: &PgPool,
    stale_after: Duration,
) -> Result<Vec<String>> {
    let mut ids: Vec<String> = sqlx::query_scalar(
        "DELETE FROM runners WHERE last_heartbeat_at <= now() - $1::float8 * interval '1 millisecond' \
         RETURNING id",
    )
    .bind(ms(stale_after))
    .fetch_all(pool)
    .await?;
    ids.sort();
    Ok(ids)
}

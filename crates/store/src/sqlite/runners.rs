//! SQLite: the `runners` registry — registration, heartbeats with load, the live set
//! ordered least loaded first, and removal of silent runners.

use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use super::{json_text, ms, now_ms, parse_json, time};
use crate::error::{Error, Result};
use crate::types::{RunnerInfo, RunnerLoad, RunnerRecord, to_u32};

fn runner_from_row(row: &SqliteRow) -> Result<RunnerRecord> {
    let count = |name: &str| -> Result<u32> { to_u32(row.try_get(name)?, name) };
    Ok(RunnerRecord {
        info: RunnerInfo {
            id: row.try_get("id")?,
            address: row.try_get("address")?,
            slots: count("slots")?,
            labels: parse_json(row.try_get("labels")?, "runner labels")?,
        },
        load: RunnerLoad {
            free_slots: count("free_slots")?,
            running: count("running")?,
            cpu_load: row.try_get("cpu_load")?,
            memory_load: row.try_get("memory_load")?,
        },
        registered_at: time(row.try_get("registered_at")?)?,
        last_heartbeat_at: time(row.try_get("last_heartbeat_at")?)?,
    })
}

pub(super) async fn register_runner(pool: &SqlitePool, runner: RunnerInfo) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO runners (id, address, slots, labels, free_slots, running, cpu_load, memory_load, \
             registered_at, last_heartbeat_at) \
         VALUES (?1, ?2, ?3, ?4, ?3, 0, 0, 0, ",
        now_ms!(),
        ", ",
        now_ms!(),
        ") ON CONFLICT (id) DO UPDATE SET address = excluded.address, slots = excluded.slots, \
             labels = excluded.labels, free_slots = excluded.slots, running = 0, cpu_load = 0, \
             memory_load = 0, registered_at = excluded.registered_at, \
             last_heartbeat_at = excluded.last_heartbeat_at"
    ))
    .bind(&runner.id)
    .bind(&runner.address)
    .bind(i64::from(runner.slots))
    .bind(json_text(&runner.labels))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn heartbeat_runner(
    pool: &SqlitePool,
    runner_id: &str,
    load: RunnerLoad,
) -> Result<()> {
    let done = sqlx::query(concat!(
        "UPDATE runners SET free_slots = ?2, running = ?3, cpu_load = ?4, memory_load = ?5, \
             last_heartbeat_at = ",
        now_ms!(),
        " WHERE id = ?1"
    ))
    .bind(runner_id)
    .bind(i64::from(load.free_slots))
    .bind(i64::from(load.running))
    .bind(load.cpu_load)
    .bind(load.memory_load)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("runner", runner_id));
    }
    Ok(())
}

pub(super) async fn deregister_runner(pool: &SqlitePool, runner_id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM runners WHERE id = ?1")
        .bind(runner_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn live_runners(
    pool: &SqlitePool,
    stale_after: Duration,
) -> Result<Vec<RunnerRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT id, address, slots, labels, free_slots, running, cpu_load, memory_load, registered_at, \
             last_heartbeat_at \
         FROM runners WHERE last_heartbeat_at > ",
        now_ms!(),
        " - ?1 ORDER BY free_slots DESC, cpu_load, memory_load, id"
    ))
    .bind(ms(stale_after))
    .fetch_all(pool)
    .await?;
    rows.iter().map(runner_from_row).collect()
}

pub(super) async fn remove_stale_runners(
    pool: &SqlitePool,
    stale_after: Duration,
) -> Result<Vec<String>> {
    let mut ids: Vec<String> = sqlx::query_scalar(concat!(
        "DELETE FROM runners WHERE last_heartbeat_at <= ",
        now_ms!(),
        " - ?1 RETURNING id"
    ))
    .bind(ms(stale_after))
    .fetch_all(pool)
    .await?;
    ids.sort();
    Ok(ids)
}

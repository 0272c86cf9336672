//! SQLite: the `runs` table — creating, reading and cancelling runs, and the lease (claim
//! inside `BEGIN IMMEDIATE`, renew, release, finish, fix the direction).

use std::time::Duration;

use aide_core::{Direction, RunId};
use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use super::{
    begin_immediate, id_text, lease_binds, lease_lost, ms, now_ms, opt_time, parse_json,
    parse_uuid, time,
};
use crate::error::{Error, Result};
use crate::types::{
    Lease, LeaseStatus, NewRun, RunFilter, RunRecord, RunStatus, direction_str, from_json,
    parse_direction, parse_status, seed_from_db, seed_to_db, to_json, to_u64,
};

macro_rules! run_columns {
    () => {
        "id, name, task, settings, direction, seed, status, stop_reason, owner, epoch, \
         lease_expires_at, cancel_requested, created_at, updated_at, finished_at"
    };
}

fn run_from_row(row: &SqliteRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: RunId(parse_uuid(row.try_get("id")?, "run id")?),
        name: row.try_get("name")?,
        task: from_json(parse_json(row.try_get("task")?, "run task")?, "run task")?,
        settings: from_json(
            parse_json(row.try_get("settings")?, "run settings")?,
            "run settings",
        )?,
        direction: parse_direction(row.try_get("direction")?)?,
        seed: seed_from_db(row.try_get("seed")?),
        status: parse_status(row.try_get("status")?)?,
        stop_reason: row.try_get("stop_reason")?,
        owner: row.try_get("owner")?,
        epoch: to_u64(row.try_get("epoch")?, "epoch")?,
        lease_expires_at: opt_time(row.try_get("lease_expires_at")?)?,
        cancel_requested: row.try_get("cancel_requested")?,
        created_at: time(row.try_get("created_at")?)?,
        updated_at: time(row.try_get("updated_at")?)?,
        finished_at: opt_time(row.try_get("finished_at")?)?,
    })
}

pub(super) async fn create_run(pool: &SqlitePool, run: NewRun) -> Result<RunRecord> {
    let row = sqlx::query(concat!(
        "INSERT INTO runs (id, name, task, settings, direction, seed, status, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ",
        now_ms!(),
        ", ",
        now_ms!(),
        ") RETURNING ",
        run_columns!()
    ))
    .bind(id_text(RunId::new().0))
    .bind(&run.name)
    .bind(to_json(&run.task, "task")?.to_string())
    .bind(to_json(&run.settings, "settings")?.to_string())
    .bind(run.direction.map(direction_str))
    .bind(seed_to_db(run.seed))
    .fetch_all(pool)
    .await?
    .pop()
    .ok_or_else(|| Error::corrupt("a write returned no row"))?;
    run_from_row(&row)
}

pub(super) async fn get_run(pool: &SqlitePool, run_id: RunId) -> Result<RunRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE id = ?1"
    ))
    .bind(id_text(run_id.0))
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => run_from_row(&row),
        None => Err(Error::not_found("run", run_id)),
    }
}

pub(super) async fn list_runs(pool: &SqlitePool, filter: RunFilter) -> Result<Vec<RunRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE (?1 IS NULL OR status = ?1) ORDER BY created_at DESC, id DESC LIMIT ?2"
    ))
    .bind(filter.status.map(RunStatus::as_str))
    .bind(i64::from(filter.limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(run_from_row).collect()
}

pub(super) async fn request_cancel(pool: &SqlitePool, run_id: RunId) -> Result<RunRecord> {
    // A queued run has never been claimed (a claim makes it running), so nobody holds it.
    let row = sqlx::query(concat!(
        "UPDATE runs SET cancel_requested = 1, \
            status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END, \
            stop_reason = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE stop_reason END, \
            finished_at = CASE WHEN status = 'queued' THEN ",
        now_ms!(),
        " ELSE finished_at END, updated_at = ",
        now_ms!(),
        " WHERE id = ?1 AND status IN ('queued', 'running') RETURNING ",
        run_columns!()
    ))
    .bind(id_text(run_id.0))
    .fetch_all(pool)
    .await?
    .pop();
    match row {
        Some(row) => run_from_row(&row),
        None => {
            let run = get_run(pool, run_id).await?;
            Err(Error::InvalidState(format!(
                "run {run_id} is already {}",
                run.status
            )))
        }
    }
}

pub(super) async fn claim_run(
    pool: &SqlitePool,
    owner: &str,
    ttl: Duration,
) -> Result<Option<Lease>> {
    let mut tx = begin_immediate(pool).await?;
    let candidate: Option<String> = sqlx::query_scalar(concat!(
        "SELECT id FROM runs WHERE status IN ('queued', 'running') \
           AND (lease_expires_at IS NULL OR lease_expires_at < ",
        now_ms!(),
        ") ORDER BY created_at, id LIMIT 1"
    ))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = candidate else {
        tx.rollback().await?;
        return Ok(None);
    };
    let epoch: i64 = sqlx::query_scalar(concat!(
        "UPDATE runs SET owner = ?2, epoch = epoch + 1, status = 'running', lease_expires_at = ",
        now_ms!(),
        " + ?3, updated_at = ",
        now_ms!(),
        " WHERE id = ?1 RETURNING epoch"
    ))
    .bind(&id)
    .bind(owner)
    .bind(ms(ttl))
    .fetch_all(&mut *tx)
    .await?
    .pop()
    .ok_or_else(|| Error::corrupt("a write returned no row"))?;
    tx.commit().await?;
    Ok(Some(Lease {
        run_id: RunId(parse_uuid(&id, "run id")?),
        owner: owner.to_owned(),
        epoch: to_u64(epoch, "epoch")?,
    }))
}

pub(super) async fn renew_lease(
    pool: &SqlitePool,
    lease: &Lease,
    ttl: Duration,
) -> Result<LeaseStatus> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let row = sqlx::query(concat!(
        "UPDATE runs SET lease_expires_at = ",
        now_ms!(),
        " + ?4 WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND status = 'running' \
         RETURNING lease_expires_at, cancel_requested"
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(ms(ttl))
    .fetch_all(pool)
    .await?
    .pop();
    let row = row.ok_or_else(|| lease_lost(lease))?;
    Ok(LeaseStatus {
        expires_at: time(row.try_get("lease_expires_at")?)?,
        cancel_requested: row.try_get("cancel_requested")?,
    })
}

pub(super) async fn release_lease(pool: &SqlitePool, lease: &Lease) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "UPDATE runs SET owner = NULL, lease_expires_at = NULL, updated_at = ",
        now_ms!(),
        " WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND status = 'running'"
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(lease_lost(lease));
    }
    Ok(())
}

pub(super) async fn finish_run(
    pool: &SqlitePool,
    lease: &Lease,
    status: RunStatus,
    reason: &str,
) -> Result<RunRecord> {
    if !status.is_terminal() {
        return Err(Error::InvalidState(format!(
            "a run cannot finish as {status}"
        )));
    }
    let (run, owner, epoch) = lease_binds(lease)?;
    let row = sqlx::query(concat!(
        "UPDATE runs SET status = ?4, stop_reason = ?5, finished_at = ",
        now_ms!(),
        ", lease_expires_at = NULL, updated_at = ",
        now_ms!(),
        " WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND status = 'running' RETURNING ",
        run_columns!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(status.as_str())
    .bind(reason)
    .fetch_all(pool)
    .await?
    .pop();
    match row {
        Some(row) => run_from_row(&row),
        None => Err(lease_lost(lease)),
    }
}

pub(super) async fn fix_direction(
    pool: &SqlitePool,
    lease: &Lease,
    direction: Direction,
) -> Result<Direction> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let row = sqlx::query(concat!(
        "UPDATE runs SET direction = COALESCE(direction, ?4), \
             updated_at = CASE WHEN direction IS NULL THEN ",
        now_ms!(),
        " ELSE updated_at END \
         WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND status = 'running' RETURNING direction"
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(direction_str(direction))
    .fetch_all(pool)
    .await?
    .pop();
    let row = row.ok_or_else(|| lease_lost(lease))?;
    parse_direction(row.try_get("direction")?)?
        .ok_or_else(|| Error::corrupt("direction is unset after fixing it"))
}

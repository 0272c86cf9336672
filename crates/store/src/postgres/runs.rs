//! Postgres: the `runs` table — creating, reading and cancelling runs, and the lease
//! (claim with `FOR UPDATE SKIP LOCKED`, renew, release, finish, fix the direction).

use std::time::Duration;

use aide_core::{Direction, RunId};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use super::{Ts, lease_binds, lease_lost, ms};
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

fn run_from_row(row: &PgRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: RunId(row.try_get("id")?),
        name: row.try_get("name")?,
        task: from_json(row.try_get("task")?, "run task")?,
        settings: from_json(row.try_get("settings")?, "run settings")?,
        direction: parse_direction(row.try_get("direction")?)?,
        seed: seed_from_db(row.try_get("seed")?),
        status: parse_status(row.try_get("status")?)?,
        stop_reason: row.try_get("stop_reason")?,
        owner: row.try_get("owner")?,
        epoch: to_u64(row.try_get("epoch")?, "epoch")?,
        lease_expires_at: row.try_get::<Option<Ts>, _>("lease_expires_at")?,
        cancel_requested: row.try_get("cancel_requested")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get::<Option<Ts>, _>("finished_at")?,
    })
}

pub(super) async fn create_run(pool: &PgPool, run: NewRun) -> Result<RunRecord> {
    let row = sqlx::query(concat!(
        "INSERT INTO runs (id, name, task, settings, direction, seed, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', now(), now()) RETURNING ",
        run_columns!()
    ))
    .bind(RunId::new().0)
    .bind(&run.name)
    .bind(to_json(&run.task, "task")?)
    .bind(to_json(&run.settings, "settings")?)
    .bind(run.direction.map(direction_str))
    .bind(seed_to_db(run.seed))
    .fetch_one(pool)
    .await?;
    run_from_row(&row)
}

pub(super) async fn get_run(pool: &PgPool, run_id: RunId) -> Result<RunRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE id = $1"
    ))
    .bind(run_id.0)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => run_from_row(&row),
        None => Err(Error::not_found("run", run_id)),
    }
}

pub(super) async fn list_runs(pool: &PgPool, filter: RunFilter) -> Result<Vec<RunRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(filter.status.map(RunStatus::as_str))
    .bind(i64::from(filter.limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(run_from_row).collect()
}

pub(super) async fn request_cancel(pool: &PgPool, run_id: RunId) -> Result<RunRecord> {
    // A queued run has never been claimed (a claim makes it running), so nobody holds it.
    let row = sqlx::query(concat!(
        "UPDATE runs SET cancel_requested = true, \
            status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END, \
            stop_reason = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE stop_reason END, \
            finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END, \
            updated_at = now() \
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING ",
        run_columns!()
    ))
    .bind(run_id.0)
    .fetch_optional(pool)
    .await?;
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

pub(super) async fn claim_run(pool: &PgPool, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
    // The candidate row is locked and re-checked under the lock; rows locked by a concurrent
    // claimer are skipped, so two claimers never take the same run.
    let row = sqlx::query(
        "WITH candidate AS ( \
             SELECT id FROM runs \
             WHERE status IN ('queued', 'running') \
               AND (lease_expires_at IS NULL OR lease_expires_at < now()) \
             ORDER BY created_at, id \
             LIMIT 1 \
             FOR UPDATE SKIP LOCKED) \
         UPDATE runs SET owner = $1, epoch = runs.epoch + 1, status = 'running', \
             lease_expires_at = now() + $2::float8 * interval '1 millisecond', updated_at = now() \
         FROM candidate WHERE runs.id = candidate.id \
         RETURNING runs.id, runs.epoch",
    )
    .bind(owner)
    .bind(ms(ttl))
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Lease {
            run_id: RunId(row.try_get("id")?),
            owner: owner.to_owned(),
            epoch: to_u64(row.try_get("epoch")?, "epoch")?,
        })
    })
    .transpose()
}

pub(super) async fn renew_lease(
    pool: &PgPool,
    lease: &Lease,
    ttl: Duration,
) -> Result<LeaseStatus> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let row = sqlx::query(
        "UPDATE runs SET lease_expires_at = now() + $4::float8 * interval '1 millisecond' \
         WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running' \
         RETURNING lease_expires_at, cancel_requested",
    )
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(ms(ttl))
    .fetch_optional(pool)
    .await?;
    let row = row.ok_or_else(|| lease_lost(lease))?;
    Ok(LeaseStatus {
        expires_at: row.try_get("lease_expires_at")?,
        cancel_requested: row.try_get("cancel_requested")?,
    })
}

pub(super) async fn release_lease(pool: &PgPool, lease: &Lease) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(
        "UPDATE runs SET owner = NULL, lease_expires_at = NULL, updated_at = now() \
         WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running'",
    )
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
    pool: &PgPool,
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
        "UPDATE runs SET status = $4, stop_reason = $5, finished_at = now(), lease_expires_at = NULL, \
             updated_at = now() \
         WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running' RETURNING ",
        run_columns!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(status.as_str())
    .bind(reason)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => run_from_row(&row),
        None => Err(lease_lost(lease)),
    }
}

pub(super) async fn fix_direction(
    pool: &PgPool,
    lease: &Lease,
    direction: Direction,
) -> Result<Direction> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let row = sqlx::query(
        "UPDATE runs SET direction = COALESCE(direction, $4), \
             updated_at = CASE WHEN direction IS NULL THEN now() ELSE updated_at END \
         WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running' RETURNING direction",
    )
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(direction_str(direction))
    .fetch_optional(pool)
    .await?;
    let row = row.ok_or_else(|| lease_lost(lease))?;
    parse_direction(row.try_get("direction")?)?
        .ok_or_else(|| Error::corrupt("direction is unset after fixing it"))
}

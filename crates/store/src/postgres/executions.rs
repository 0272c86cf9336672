//! Postgres: the `executions` table — one row per attempt; starting an attempt supersedes
//! the running ones, and results are fenced by the attempt number.

use aide_core::{NodeId, NodeStage, RunId};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use super::{Ts, lock_fence};
use crate::error::{Error, Result};
use crate::types::{
    ExecutionRecord, ExecutionResult, ExecutionStatus, Lease, parse_exec_status, parse_stage,
    to_i64, to_u32, to_u64, transition_error,
};

macro_rules! execution_columns {
    () => {
        "node_id, run_id, attempt, status, started_at, finished_at, runner_id, exit_code, timed_out, \
         oom_killed, wall_secs, cpu_secs, peak_memory_bytes, output, output_bytes, exc_type, exc_message, \
         abandon_reason"
    };
}

fn execution_from_row(row: &PgRow) -> Result<ExecutionRecord> {
    let status = parse_exec_status(row.try_get("status")?)?;
    let result = if status == ExecutionStatus::Finished {
        Some(ExecutionResult {
            exit_code: row.try_get("exit_code")?,
            timed_out: row
                .try_get::<Option<bool>, _>("timed_out")?
                .unwrap_or_default(),
            oom_killed: row
                .try_get::<Option<bool>, _>("oom_killed")?
                .unwrap_or_default(),
            wall_secs: row
                .try_get::<Option<f64>, _>("wall_secs")?
                .unwrap_or_default(),
            cpu_secs: row.try_get("cpu_secs")?,
            peak_memory_bytes: row
                .try_get::<Option<i64>, _>("peak_memory_bytes")?
                .map(|v| to_u64(v, "peak memory"))
                .transpose()?,
            output: row
                .try_get::<Option<String>, _>("output")?
                .unwrap_or_default(),
            output_bytes: to_u64(
                row.try_get::<Option<i64>, _>("output_bytes")?
                    .unwrap_or_default(),
                "output bytes",
            )?,
            exc_type: row.try_get("exc_type")?,
            exc_message: row.try_get("exc_message")?,
            runner_id: row.try_get("runner_id")?,
        })
    } else {
        None
    };
    Ok(ExecutionRecord {
        node_id: NodeId(row.try_get("node_id")?),
        run_id: RunId(row.try_get("run_id")?),
        attempt: to_u32(i64::from(row.try_get::<i32, _>("attempt")?), "attempt")?,
        status,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get::<Option<Ts>, _>("finished_at")?,
        result,
        abandon_reason: row.try_get("abandon_reason")?,
    })
}

fn attempt_i32(node: NodeId, attempt: u32) -> Result<i32> {
    i32::try_from(attempt).map_err(|_| Error::StaleAttempt {
        node_id: node,
        attempt,
    })
}

pub(super) async fn start_execution(pool: &PgPool, lease: &Lease, node: NodeId) -> Result<u32> {
    let mut tx = pool.begin().await?;
    lock_fence(&mut tx, lease).await?;
    // Locking the node serialises attempts of one node.
    let row = sqlx::query("SELECT stage, code IS NOT NULL AS has_code FROM nodes WHERE id = $1 AND run_id = $2 FOR UPDATE")
        .bind(node.0)
        .bind(lease.run_id.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("node", node))?;
    let stage = parse_stage(row.try_get("stage")?)?;
    let has_code: bool = row.try_get("has_code")?;
    if stage != NodeStage::Generated || !has_code {
        return Err(transition_error(node, stage, has_code, NodeStage::Executed));
    }
    sqlx::query(
        "UPDATE executions SET status = 'superseded', finished_at = now(), \
             abandon_reason = 'superseded by a newer attempt' \
         WHERE node_id = $1 AND status = 'running'",
    )
    .bind(node.0)
    .execute(&mut *tx)
    .await?;
    let attempt: i32 = sqlx::query_scalar(
        "INSERT INTO executions (node_id, run_id, attempt, status, started_at) \
         SELECT $1, $2, COALESCE(MAX(attempt), 0) + 1, 'running', now() FROM executions WHERE node_id = $1 \
         RETURNING attempt",
    )
    .bind(node.0)
    .bind(lease.run_id.0)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    to_u32(i64::from(attempt), "attempt")
}

/// Explains why an attempt-fenced write affected no row.
async fn refused(pool: &PgPool, node: NodeId, attempt: u32) -> Error {
    let exists = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM executions WHERE node_id = $1 AND attempt = $2)",
    )
    .bind(node.0)
    .bind(attempt_i32(node, attempt).unwrap_or(i32::MAX))
    .fetch_one(pool)
    .await;
    match exists {
        Ok(true) => Error::StaleAttempt {
            node_id: node,
            attempt,
        },
        Ok(false) => Error::not_found("execution attempt", format!("{node}#{attempt}")),
        Err(e) => e.into(),
    }
}

pub(super) async fn finish_execution(
    pool: &PgPool,
    node: NodeId,
    attempt: u32,
    result: ExecutionResult,
) -> Result<ExecutionRecord> {
    let row = sqlx::query(concat!(
        "UPDATE executions SET status = 'finished', finished_at = now(), runner_id = $3, exit_code = $4, \
             timed_out = $5, oom_killed = $6, wall_secs = $7, cpu_secs = $8, peak_memory_bytes = $9, \
             output = $10, output_bytes = $11, exc_type = $12, exc_message = $13 \
         WHERE node_id = $1 AND attempt = $2 AND status = 'running' \
           AND attempt = (SELECT MAX(attempt) FROM executions latest WHERE latest.node_id = $1) \
         RETURNING ",
        execution_columns!()
    ))
    .bind(node.0)
    .bind(attempt_i32(node, attempt)?)
    .bind(&result.runner_id)
    .bind(result.exit_code)
    .bind(result.timed_out)
    .bind(result.oom_killed)
    .bind(result.wall_secs)
    .bind(result.cpu_secs)
    .bind(result.peak_memory_bytes.map(|v| to_i64(v, "peak memory")).transpose()?)
    .bind(&result.output)
    .bind(to_i64(result.output_bytes, "output bytes")?)
    .bind(&result.exc_type)
    .bind(&result.exc_message)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => execution_from_row(&row),
        None => Err(refused(pool, node, attempt).await),
    }
}

pub(super) async fn abandon_execution(
    pool: &PgPool,
    node: NodeId,
    attempt: u32,
    reason: &str,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE executions SET status = 'abandoned', finished_at = now(), abandon_reason = $3 \
         WHERE node_id = $1 AND attempt = $2 AND status = 'running'",
    )
    .bind(node.0)
    .bind(attempt_i32(node, attempt)?)
    .bind(reason)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(refused(pool, node, attempt).await);
    }
    Ok(())
}

pub(super) async fn list_executions(pool: &PgPool, node: NodeId) -> Result<Vec<ExecutionRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        execution_columns!(),
        " FROM executions WHERE node_id = $1 ORDER BY attempt"
    ))
    .bind(node.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(execution_from_row).collect()
}

//! Postgres: the `nodes` table — fenced inserts (one or a batch) and the lifecycle
//! transitions `pending → generated → executed → reviewed`, plus reading nodes and trees.

use aide_core::{NodeId, NodeStage, RunId};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use super::{lease_binds, lease_holds, lease_lost, lock_fence, pg_fence};
use crate::error::{Error, Result};
use crate::types::{
    ExecutionSummary, Generation, Lease, NewNode, NodeRecord, Review, from_json, parse_action,
    parse_stage, to_json, to_u32, transition_error,
};

macro_rules! node_columns {
    () => {
        "id, run_id, parent_id, action, step, debug_depth, stage, plan, code, raw_reply, \
         term_out, exit_code, exec_time_secs, timed_out, exc_type, exc_info, wrote_submission, \
         is_buggy, bug_reasons, metric, summary, created_at, updated_at"
    };
}

/// Rows in one `UNNEST` insert of a batch.
const BATCH: usize = 5_000;

fn node_from_row(row: &PgRow) -> Result<NodeRecord> {
    let stage = parse_stage(row.try_get("stage")?)?;
    let generation = if stage >= NodeStage::Generated {
        Some(Generation {
            plan: row
                .try_get::<Option<String>, _>("plan")?
                .unwrap_or_default(),
            code: row.try_get("code")?,
            raw_reply: row.try_get("raw_reply")?,
        })
    } else {
        None
    };
    let execution = match row.try_get::<Option<String>, _>("term_out")? {
        Some(term_out) => Some(ExecutionSummary {
            term_out,
            exit_code: row.try_get("exit_code")?,
            exec_time_secs: row
                .try_get::<Option<f64>, _>("exec_time_secs")?
                .unwrap_or_default(),
            timed_out: row
                .try_get::<Option<bool>, _>("timed_out")?
                .unwrap_or_default(),
            exc_type: row.try_get("exc_type")?,
            exc_info: row
                .try_get::<Option<serde_json::Value>, _>("exc_info")?
                .map(|v| from_json(v, "exception info"))
                .transpose()?,
            wrote_submission: row
                .try_get::<Option<bool>, _>("wrote_submission")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let review = if stage == NodeStage::Reviewed {
        let reasons: Option<serde_json::Value> = row.try_get("bug_reasons")?;
        Some(Review {
            is_buggy: row
                .try_get::<Option<bool>, _>("is_buggy")?
                .unwrap_or_default(),
            bug_reasons: match reasons {
                Some(v) => from_json(v, "bug reasons")?,
                None => Vec::new(),
            },
            metric: row.try_get("metric")?,
            summary: row
                .try_get::<Option<String>, _>("summary")?
                .unwrap_or_default(),
        })
    } else {
        None
    };
    Ok(NodeRecord {
        id: NodeId(row.try_get("id")?),
        run_id: RunId(row.try_get("run_id")?),
        parent: row
            .try_get::<Option<uuid::Uuid>, _>("parent_id")?
            .map(NodeId),
        action: parse_action(row.try_get("action")?)?,
        step: to_u32(i64::from(row.try_get::<i32, _>("step")?), "step")?,
        debug_depth: to_u32(
            i64::from(row.try_get::<i32, _>("debug_depth")?),
            "debug depth",
        )?,
        stage,
        generation,
        execution,
        review,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn small(value: u32, what: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::InvalidArgument(format!("{what} {value} is too large")))
}

pub(super) async fn insert_node(pool: &PgPool, lease: &Lease, node: NewNode) -> Result<NodeRecord> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let row = sqlx::query(concat!(
        "INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, stage, created_at, updated_at) \
         SELECT $4, $1, $5, $6, $7, $8, 'pending', now(), now() WHERE ",
        pg_fence!(),
        " RETURNING ",
        node_columns!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(node.id.0)
    .bind(node.parent.map(|p| p.0))
    .bind(node.action.as_str())
    .bind(small(node.step, "step")?)
    .bind(small(node.debug_depth, "debug depth")?)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => node_from_row(&row),
        None => Err(lease_lost(lease)),
    }
}

pub(super) async fn insert_nodes(pool: &PgPool, lease: &Lease, nodes: &[NewNode]) -> Result<()> {
    let mut tx = pool.begin().await?;
    lock_fence(&mut tx, lease).await?;
    for chunk in nodes.chunks(BATCH) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut parents = Vec::with_capacity(chunk.len());
        let mut actions = Vec::with_capacity(chunk.len());
        let mut steps = Vec::with_capacity(chunk.len());
        let mut depths = Vec::with_capacity(chunk.len());
        for node in chunk {
            ids.push(node.id.0);
            parents.push(node.parent.map(|p| p.0));
            actions.push(node.action.as_str());
            steps.push(small(node.step, "step")?);
            depths.push(small(node.debug_depth, "debug depth")?);
        }
        sqlx::query(
            "INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, stage, created_at, updated_at) \
             SELECT n.id, $1, n.parent_id, n.action, n.step, n.debug_depth, 'pending', now(), now() \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::int4[], $6::int4[]) \
                  AS n(id, parent_id, action, step, debug_depth)",
        )
        .bind(lease.run_id.0)
        .bind(ids)
        .bind(parents)
        .bind(actions)
        .bind(steps)
        .bind(depths)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Explains why a fenced transition of `node` affected no row.
async fn refused(pool: &PgPool, lease: &Lease, node: NodeId, target: NodeStage) -> Error {
    match lease_holds(pool, lease).await {
        Ok(true) => {}
        Ok(false) => return lease_lost(lease),
        Err(e) => return e,
    }
    let row = sqlx::query(
        "SELECT stage, code IS NOT NULL AS has_code FROM nodes WHERE id = $1 AND run_id = $2",
    )
    .bind(node.0)
    .bind(lease.run_id.0)
    .fetch_optional(pool)
    .await;
    match row {
        Ok(Some(row)) => {
            let stage = match row
                .try_get::<String, _>("stage")
                .map_err(Error::from)
                .and_then(|s| parse_stage(&s))
            {
                Ok(stage) => stage,
                Err(e) => return e,
            };
            let has_code = row.try_get::<bool, _>("has_code").unwrap_or(false);
            transition_error(node, stage, has_code, target)
        }
        Ok(None) => Error::not_found("node", node),
        Err(e) => e.into(),
    }
}

pub(super) async fn mark_generated(
    pool: &PgPool,
    lease: &Lease,
    node: NodeId,
    generation: Generation,
) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "UPDATE nodes SET stage = 'generated', plan = $5, code = $6, raw_reply = $7, updated_at = now() \
         WHERE id = $4 AND run_id = $1 AND stage = 'pending' AND ",
        pg_fence!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(node.0)
    .bind(&generation.plan)
    .bind(&generation.code)
    .bind(&generation.raw_reply)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(refused(pool, lease, node, NodeStage::Generated).await);
    }
    Ok(())
}

pub(super) async fn mark_executed(
    pool: &PgPool,
    lease: &Lease,
    node: NodeId,
    exec: ExecutionSummary,
) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "UPDATE nodes SET stage = 'executed', term_out = $5, exit_code = $6, exec_time_secs = $7, \
             timed_out = $8, exc_type = $9, exc_info = $10, wrote_submission = $11, updated_at = now() \
         WHERE id = $4 AND run_id = $1 AND stage = 'generated' AND code IS NOT NULL AND ",
        pg_fence!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(node.0)
    .bind(&exec.term_out)
    .bind(exec.exit_code)
    .bind(exec.exec_time_secs)
    .bind(exec.timed_out)
    .bind(&exec.exc_type)
    .bind(
        exec.exc_info
            .as_ref()
            .map(|info| to_json(info, "exception info"))
            .transpose()?,
    )
    .bind(exec.wrote_submission)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(refused(pool, lease, node, NodeStage::Executed).await);
    }
    Ok(())
}

pub(super) async fn mark_reviewed(
    pool: &PgPool,
    lease: &Lease,
    node: NodeId,
    review: Review,
) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "UPDATE nodes SET stage = 'reviewed', is_buggy = $5, bug_reasons = $6, metric = $7, summary = $8, \
             updated_at = now() \
         WHERE id = $4 AND run_id = $1 \
           AND (stage = 'executed' OR (stage = 'generated' AND code IS NULL)) AND ",
        pg_fence!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(node.0)
    .bind(review.is_buggy)
    .bind(to_json(&review.bug_reasons, "bug reasons")?)
    .bind(review.metric)
    .bind(&review.summary)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(refused(pool, lease, node, NodeStage::Reviewed).await);
    }
    Ok(())
}

pub(super) async fn get_node(pool: &PgPool, node: NodeId) -> Result<NodeRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        node_columns!(),
        " FROM nodes WHERE id = $1"
    ))
    .bind(node.0)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => node_from_row(&row),
        None => Err(Error::not_found("node", node)),
    }
}

pub(super) async fn load_tree(pool: &PgPool, run_id: RunId) -> Result<Vec<NodeRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        node_columns!(),
        " FROM nodes WHERE run_id = $1 ORDER BY step"
    ))
    .bind(run_id.0)
    .fetch_all(pool)
    .await?;
    rows.iter().map(node_from_row).collect()
}

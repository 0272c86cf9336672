//! SQLite: the `nodes` table — fenced inserts (one, or a batch in one statement over
//! `json_each`) and the lifecycle transitions `pending → generated → executed → reviewed`,
//! plus reading nodes and trees.

use aide_core::{NodeId, NodeStage, RunId};
use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use super::{
    id_text, json_text, lease_binds, lease_holds, lease_lost, now_ms, parse_json, parse_uuid,
    sqlite_fence, time,
};
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

fn node_from_row(row: &SqliteRow) -> Result<NodeRecord> {
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
                .try_get::<Option<&str>, _>("exc_info")?
                .map(|t| {
                    parse_json(t, "exception info").and_then(|v| from_json(v, "exception info"))
                })
                .transpose()?,
            wrote_submission: row
                .try_get::<Option<bool>, _>("wrote_submission")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let review = if stage == NodeStage::Reviewed {
        let reasons = match row.try_get::<Option<&str>, _>("bug_reasons")? {
            Some(text) => from_json(parse_json(text, "bug reasons")?, "bug reasons")?,
            None => Vec::new(),
        };
        Some(Review {
            is_buggy: row
                .try_get::<Option<bool>, _>("is_buggy")?
                .unwrap_or_default(),
            bug_reasons: reasons,
            metric: row.try_get("metric")?,
            summary: row
                .try_get::<Option<String>, _>("summary")?
                .unwrap_or_default(),
        })
    } else {
        None
    };
    Ok(NodeRecord {
        id: NodeId(parse_uuid(row.try_get("id")?, "node id")?),
        run_id: RunId(parse_uuid(row.try_get("run_id")?, "run id")?),
        parent: row
            .try_get::<Option<&str>, _>("parent_id")?
            .map(|p| parse_uuid(p, "parent id").map(NodeId))
            .transpose()?,
        action: parse_action(row.try_get("action")?)?,
        step: to_u32(row.try_get("step")?, "step")?,
        debug_depth: to_u32(row.try_get("debug_depth")?, "debug depth")?,
        stage,
        generation,
        execution,
        review,
        created_at: time(row.try_get("created_at")?)?,
        updated_at: time(row.try_get("updated_at")?)?,
    })
}

pub(super) async fn insert_node(
    pool: &SqlitePool,
    lease: &Lease,
    node: NewNode,
) -> Result<NodeRecord> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let row = sqlx::query(concat!(
        "INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, stage, created_at, updated_at) \
         SELECT ?4, ?1, ?5, ?6, ?7, ?8, 'pending', ",
        now_ms!(),
        ", ",
        now_ms!(),
        " WHERE ",
        sqlite_fence!(),
        " RETURNING ",
        node_columns!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(id_text(node.id.0))
    .bind(node.parent.map(|p| id_text(p.0)))
    .bind(node.action.as_str())
    .bind(i64::from(node.step))
    .bind(i64::from(node.debug_depth))
    .fetch_all(pool)
    .await?
    .pop();
    match row {
        Some(row) => node_from_row(&row),
        None => Err(lease_lost(lease)),
    }
}

pub(super) async fn insert_nodes(
    pool: &SqlitePool,
    lease: &Lease,
    nodes: &[NewNode],
) -> Result<()> {
    if nodes.is_empty() {
        return if lease_holds(pool, lease).await? {
            Ok(())
        } else {
            Err(lease_lost(lease))
        };
    }
    // One statement over a JSON array: atomic, fenced, and one round trip.
    let batch: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            serde_json::json!({
                "id": id_text(n.id.0),
                "parent": n.parent.map(|p| id_text(p.0)),
                "action": n.action.as_str(),
                "step": n.step,
                "debug_depth": n.debug_depth,
            })
        })
        .collect();
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, stage, created_at, updated_at) \
         SELECT json_extract(n.value, '$.id'), ?1, json_extract(n.value, '$.parent'), \
             json_extract(n.value, '$.action'), json_extract(n.value, '$.step'), \
             json_extract(n.value, '$.debug_depth'), 'pending', ",
        now_ms!(),
        ", ",
        now_ms!(),
        " FROM json_each(?4) AS n WHERE ",
        sqlite_fence!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(serde_json::Value::Array(batch).to_string())
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(lease_lost(lease));
    }
    Ok(())
}

/// Explains why a fenced transition of `node` affected no row.
async fn refused(pool: &SqlitePool, lease: &Lease, node: NodeId, target: NodeStage) -> Error {
    match lease_holds(pool, lease).await {
        Ok(true) => {}
        Ok(false) => return lease_lost(lease),
        Err(e) => return e,
    }
    let row = sqlx::query(
        "SELECT stage, code IS NOT NULL AS has_code FROM nodes WHERE id = ?1 AND run_id = ?2",
    )
    .bind(id_text(node.0))
    .bind(id_text(lease.run_id.0))
    .fetch_optional(pool)
    .await;
    match row {
        Ok(Some(row)) => {
            let stage = match row
                .try_get::<&str, _>("stage")
                .map_err(Error::from)
                .and_then(parse_stage)
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
    pool: &SqlitePool,
    lease: &Lease,
    node: NodeId,
    generation: Generation,
) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "UPDATE nodes SET stage = 'generated', plan = ?5, code = ?6, raw_reply = ?7, updated_at = ",
        now_ms!(),
        " WHERE id = ?4 AND run_id = ?1 AND stage = 'pending' AND ",
        sqlite_fence!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(id_text(node.0))
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
    pool: &SqlitePool,
    lease: &Lease,
    node: NodeId,
    exec: ExecutionSummary,
) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "UPDATE nodes SET stage = 'executed', term_out = ?5, exit_code = ?6, exec_time_secs = ?7, \
             timed_out = ?8, exc_type = ?9, exc_info = ?10, wrote_submission = ?11, updated_at = ",
        now_ms!(),
        " WHERE id = ?4 AND run_id = ?1 AND stage = 'generated' AND code IS NOT NULL AND ",
        sqlite_fence!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(id_text(node.0))
    .bind(&exec.term_out)
    .bind(exec.exit_code)
    .bind(exec.exec_time_secs)
    .bind(exec.timed_out)
    .bind(&exec.exc_type)
    .bind(
        exec.exc_info
            .as_ref()
            .map(|info| to_json(info, "exception info").map(|v| json_text(&v)))
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
    pool: &SqlitePool,
    lease: &Lease,
    node: NodeId,
    review: Review,
) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "UPDATE nodes SET stage = 'reviewed', is_buggy = ?5, bug_reasons = ?6, metric = ?7, summary = ?8, \
             updated_at = ",
        now_ms!(),
        " WHERE id = ?4 AND run_id = ?1 \
           AND (stage = 'executed' OR (stage = 'generated' AND code IS NULL)) AND ",
        sqlite_fence!()
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(id_text(node.0))
    .bind(review.is_buggy)
    .bind(to_json(&review.bug_reasons, "bug reasons")?.to_string())
    .bind(review.metric)
    .bind(&review.summary)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(refused(pool, lease, node, NodeStage::Reviewed).await);
    }
    Ok(())
}

pub(super) async fn get_node(pool: &SqlitePool, node: NodeId) -> Result<NodeRecord> {
    let row = sqlx::query(concat!(
        "SELECT ",
        node_columns!(),
        " FROM nodes WHERE id = ?1"
    ))
    .bind(id_text(node.0))
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => node_from_row(&row),
        None => Err(Error::not_found("node", node)),
    }
}

pub(super) async fn load_tree(pool: &SqlitePool, run_id: RunId) -> Result<Vec<NodeRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        node_columns!(),
        " FROM nodes WHERE run_id = ?1 ORDER BY step"
    ))
    .bind(id_text(run_id.0))
    .fetch_all(pool)
    .await?;
    rows.iter().map(node_from_row).collect()
}

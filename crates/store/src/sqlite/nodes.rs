//! SQLite: [`NodeStore`] on the `nodes` and `node_files` tables — fenced inserts (one, or a
//! batch in one statement over `json_each`) and the lifecycle transitions `pending →
//! generated → executed → reviewed`, reading nodes and trees, and the files a node's
//! execution produced.

use aide_core::{NodeId, NodeStage, RunId};

use super::{SqliteQuery, SqliteStore, fenced, id_text, json_text, returning};
use crate::decode;
use crate::error::{Error, Result};
use crate::refusal::{self, Explain};
use crate::store::NodeStore;
use crate::types::{
    ExecutionSummary, Generation, Lease, NewNode, NodeFile, NodeFileBody, NodeRecord, Review,
    to_json,
};

/// A batch of new nodes as the JSON array `nodes/insert_batch.sql` reads.
fn batch_json(nodes: &[NewNode]) -> String {
    let batch: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            serde_json::json!({
                "id": id_text(n.id.0),
                "parent": n.parent.map(|p| id_text(p.0)),
                "action": n.action.as_str(),
                "step": n.step,
                "debug_depth": n.debug_depth,
                "partner": n.partner.map(|p| id_text(p.0)),
            })
        })
        .collect();
    serde_json::Value::Array(batch).to_string()
}

impl NodeStore for SqliteStore {
    async fn insert_node(&self, lease: &Lease, node: NewNode) -> Result<NodeRecord> {
        let row = returning(insert_query(lease, &node)?, &self.pool)
            .await?
            .ok_or_else(|| lease.lost())?;
        decode::node(&row)
    }

    async fn insert_nodes(&self, lease: &Lease, nodes: &[NewNode]) -> Result<()> {
        if nodes.is_empty() {
            return match self.lease_holds(lease).await? {
                true => Ok(()),
                false => Err(lease.lost()),
            };
        }
        let done = fenced(
            include_str!("../../sql/sqlite/nodes/insert_batch.sql"),
            lease,
        )?
        .bind(batch_json(nodes))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(lease.lost());
        }
        Ok(())
    }

    async fn mark_generated(
        &self,
        lease: &Lease,
        node: NodeId,
        generation: Generation,
    ) -> Result<()> {
        let done = generated_query(lease, node, generation)?
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::transition(self, lease, node, NodeStage::Generated).await);
        }
        Ok(())
    }

    async fn mark_executed(
        &self,
        lease: &Lease,
        node: NodeId,
        exec: ExecutionSummary,
    ) -> Result<()> {
        let done = executed_query(lease, node, exec)?
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::transition(self, lease, node, NodeStage::Executed).await);
        }
        Ok(())
    }

    async fn mark_reviewed(&self, lease: &Lease, node: NodeId, review: Review) -> Result<()> {
        let done = reviewed_query(lease, node, review)?
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::transition(self, lease, node, NodeStage::Reviewed).await);
        }
        Ok(())
    }

    async fn get_node(&self, node: NodeId) -> Result<NodeRecord> {
        sqlx::query(include_str!("../../sql/sqlite/nodes/get.sql"))
            .bind(id_text(node.0))
            .fetch_optional(&self.pool)
            .await?
            .map_or_else(
                || Err(Error::not_found("node", node)),
                |row| decode::node(&row),
            )
    }

    async fn load_tree(&self, run_id: RunId) -> Result<Vec<NodeRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/nodes/tree.sql"))
            .bind(id_text(run_id.0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::node)
            .collect()
    }

    async fn put_node_file(&self, lease: &Lease, node: NodeId, file: &NodeFile) -> Result<()> {
        let done = put_file_query(lease, node, file)?
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::node_write(self, lease, node).await);
        }
        Ok(())
    }

    async fn get_node_file(&self, node: NodeId, name: &str) -> Result<Option<NodeFile>> {
        sqlx::query(include_str!("../../sql/sqlite/files/get.sql"))
            .bind(id_text(node.0))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode::node_file)
            .transpose()
    }
}

/// One pending node, fenced (`nodes/insert.sql`); no row when the lease is lost.
pub(super) fn insert_query(lease: &Lease, node: &NewNode) -> Result<SqliteQuery> {
    Ok(
        fenced(include_str!("../../sql/sqlite/nodes/insert.sql"), lease)?
            .bind(id_text(node.id.0))
            .bind(node.parent.map(|p| id_text(p.0)))
            .bind(node.action.as_str())
            .bind(i64::from(node.step))
            .bind(i64::from(node.debug_depth))
            .bind(node.partner.map(|p| id_text(p.0))),
    )
}

/// `pending → generated`, fenced; no row changed when refused.
pub(super) fn generated_query(
    lease: &Lease,
    node: NodeId,
    generation: Generation,
) -> Result<SqliteQuery> {
    Ok(fenced(
        include_str!("../../sql/sqlite/nodes/mark_generated.sql"),
        lease,
    )?
    .bind(id_text(node.0))
    .bind(generation.plan)
    .bind(generation.code)
    .bind(generation.raw_reply))
}

/// `generated → executed`, fenced; no row changed when refused.
pub(super) fn executed_query(
    lease: &Lease,
    node: NodeId,
    exec: ExecutionSummary,
) -> Result<SqliteQuery> {
    let info = exec
        .exc_info
        .as_ref()
        .map(|info| to_json(info, "exception info").map(|v| json_text(&v)))
        .transpose()?;
    Ok(fenced(
        include_str!("../../sql/sqlite/nodes/mark_executed.sql"),
        lease,
    )?
    .bind(id_text(node.0))
    .bind(exec.term_out)
    .bind(exec.exit_code)
    .bind(exec.exec_time_secs)
    .bind(exec.timed_out)
    .bind(exec.exc_type)
    .bind(info)
    .bind(exec.wrote_submission))
}

/// `→ reviewed`, fenced; no row changed when refused.
pub(super) fn reviewed_query(lease: &Lease, node: NodeId, review: Review) -> Result<SqliteQuery> {
    Ok(fenced(
        include_str!("../../sql/sqlite/nodes/mark_reviewed.sql"),
        lease,
    )?
    .bind(id_text(node.0))
    .bind(review.is_buggy)
    .bind(json_text(&to_json(&review.bug_reasons, "bug reasons")?))
    .bind(review.metric)
    .bind(review.summary))
}

/// A node file, fenced and only for a node of the lease's run; no row changed otherwise.
pub(super) fn put_file_query(lease: &Lease, node: NodeId, file: &NodeFile) -> Result<SqliteQuery> {
    let (content, digest) = match &file.body {
        NodeFileBody::Inline(bytes) => (Some(bytes.clone()), None),
        NodeFileBody::Blob(digest) => (None, Some(digest.to_string())),
    };
    Ok(
        fenced(include_str!("../../sql/sqlite/files/put.sql"), lease)?
            .bind(id_text(node.0))
            .bind(file.name.clone())
            .bind(content)
            .bind(digest)
            .bind(
                i64::try_from(file.size)
                    .map_err(|_| Error::corrupt("a node file over i64::MAX bytes"))?,
            ),
    )
}

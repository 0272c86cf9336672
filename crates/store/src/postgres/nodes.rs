//! Postgres: [`NodeStore`] on the `nodes` and `node_files` tables — fenced inserts (one,
//! or a batch as `UNNEST` arrays) and the lifecycle transitions `pending → generated →
//! executed → reviewed`, reading nodes and trees, and the files a node's execution produced.

use aide_core::{NodeId, NodeStage, RunId};

use super::{PgStore, fenced, int4, lock_fence};
use crate::decode;
use crate::error::{Error, Result};
use crate::refusal;
use crate::store::NodeStore;
use crate::types::{
    ExecutionSummary, Generation, Lease, NewNode, NodeFile, NodeFileBody, NodeRecord, Review,
    to_json,
};

/// Rows in one `UNNEST` insert of a batch.
const BATCH: usize = 5_000;

impl NodeStore for PgStore {
    async fn insert_node(&self, lease: &Lease, node: NewNode) -> Result<NodeRecord> {
        let row = fenced(include_str!("../../sql/postgres/nodes/insert.sql"), lease)?
            .bind(node.id.0)
            .bind(node.parent.map(|p| p.0))
            .bind(node.action.as_str())
            .bind(int4(node.step, "step")?)
            .bind(int4(node.debug_depth, "debug depth")?)
            .bind(node.partner.map(|p| p.0))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| lease.lost())?;
        decode::node(&row)
    }

    async fn insert_nodes(&self, lease: &Lease, nodes: &[NewNode]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        lock_fence(&mut tx, lease).await?;
        for chunk in nodes.chunks(BATCH) {
            let mut ids = Vec::with_capacity(chunk.len());
            let mut parents = Vec::with_capacity(chunk.len());
            let mut actions = Vec::with_capacity(chunk.len());
            let mut steps = Vec::with_capacity(chunk.len());
            let mut depths = Vec::with_capacity(chunk.len());
            let mut partners = Vec::with_capacity(chunk.len());
            for node in chunk {
                ids.push(node.id.0);
                parents.push(node.parent.map(|p| p.0));
                actions.push(node.action.as_str());
                steps.push(int4(node.step, "step")?);
                depths.push(int4(node.debug_depth, "debug depth")?);
                partners.push(node.partner.map(|p| p.0));
            }
            sqlx::query(include_str!("../../sql/postgres/nodes/insert_batch.sql"))
                .bind(lease.run_id.0)
                .bind(ids)
                .bind(parents)
                .bind(actions)
                .bind(steps)
                .bind(depths)
                .bind(partners)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mark_generated(
        &self,
        lease: &Lease,
        node: NodeId,
        generation: Generation,
    ) -> Result<()> {
        let done = fenced(
            include_str!("../../sql/postgres/nodes/mark_generated.sql"),
            lease,
        )?
        .bind(node.0)
        .bind(&generation.plan)
        .bind(&generation.code)
        .bind(&generation.raw_reply)
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
        let done = fenced(
            include_str!("../../sql/postgres/nodes/mark_executed.sql"),
            lease,
        )?
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
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::transition(self, lease, node, NodeStage::Executed).await);
        }
        Ok(())
    }

    async fn mark_reviewed(&self, lease: &Lease, node: NodeId, review: Review) -> Result<()> {
        let done = fenced(
            include_str!("../../sql/postgres/nodes/mark_reviewed.sql"),
            lease,
        )?
        .bind(node.0)
        .bind(review.is_buggy)
        .bind(to_json(&review.bug_reasons, "bug reasons")?)
        .bind(review.metric)
        .bind(&review.summary)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::transition(self, lease, node, NodeStage::Reviewed).await);
        }
        Ok(())
    }

    async fn get_node(&self, node: NodeId) -> Result<NodeRecord> {
        sqlx::query(include_str!("../../sql/postgres/nodes/get.sql"))
            .bind(node.0)
            .fetch_optional(&self.pool)
            .await?
            .map_or_else(
                || Err(Error::not_found("node", node)),
                |row| decode::node(&row),
            )
    }

    async fn load_tree(&self, run_id: RunId) -> Result<Vec<NodeRecord>> {
        sqlx::query(include_str!("../../sql/postgres/nodes/tree.sql"))
            .bind(run_id.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::node)
            .collect()
    }

    async fn put_node_file(&self, lease: &Lease, node: NodeId, file: &NodeFile) -> Result<()> {
        let (content, digest) = match &file.body {
            NodeFileBody::Inline(bytes) => (Some(bytes.as_slice()), None),
            NodeFileBody::Blob(digest) => (None, Some(digest.to_string())),
        };
        let done = fenced(include_str!("../../sql/postgres/files/put.sql"), lease)?
            .bind(node.0)
            .bind(&file.name)
            .bind(content)
            .bind(digest)
            .bind(
                i64::try_from(file.size)
                    .map_err(|_| Error::corrupt("a node file over i64::MAX bytes"))?,
            )
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::node_write(self, lease, node).await);
        }
        Ok(())
    }

    async fn get_node_file(&self, node: NodeId, name: &str) -> Result<Option<NodeFile>> {
        sqlx::query(include_str!("../../sql/postgres/files/get.sql"))
            .bind(node.0)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode::node_file)
            .transpose()
    }
}

//! SQLite: [`StageStore`] — what one stage of a node writes, each in one `BEGIN IMMEDIATE`
//! transaction made of the statements of the separate calls (one write lock and one commit
//! per stage). A refused transition still commits the ledger row written before it; the
//! refusal is explained after the commit by the same reads as the separate calls.

use aide_core::{NodeId, NodeStage, RunEvent};

use super::events::append_on;
use super::executions::finish_query;
use super::ledger::record_query;
use super::nodes::{executed_query, generated_query, insert_query, put_file_query, reviewed_query};
use super::{SqliteStore, lease_holds, returning};
use crate::decode;
use crate::error::Result;
use crate::refusal;
use crate::store::StageStore;
use crate::types::{
    ExecutionResult, ExecutionSummary, Generation, Lease, NewLlmCall, NewNode, NodeFile,
    NodeRecord, Review,
};

impl StageStore for SqliteStore {
    async fn create_node(
        &self,
        lease: &Lease,
        node: NewNode,
        event: &RunEvent,
    ) -> Result<NodeRecord> {
        let mut tx = self.begin_immediate().await?;
        // The write lock is held from here on, so the lease holds until the commit.
        if !lease_holds(&mut *tx, lease).await? {
            return Err(lease.lost());
        }
        append_on(&mut tx, lease.run_id, event).await?;
        let row = returning(insert_query(lease, &node)?, &mut *tx)
            .await?
            .ok_or_else(|| lease.lost())?;
        tx.commit().await?;
        decode::node(&row)
    }

    async fn record_generation(
        &self,
        lease: &Lease,
        node: NodeId,
        generation: Generation,
        call: &NewLlmCall,
    ) -> Result<()> {
        call.check_stage(lease, node)?;
        let mut tx = self.begin_immediate().await?;
        record_query(call)?.fetch_all(&mut *tx).await?;
        let done = generated_query(lease, node, generation)?
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(refusal::transition(self, lease, node, NodeStage::Generated).await);
        }
        Ok(())
    }

    async fn record_execution(
        &self,
        lease: &Lease,
        node: NodeId,
        attempt: u32,
        result: ExecutionResult,
        summary: ExecutionSummary,
        file: Option<&NodeFile>,
    ) -> Result<()> {
        let mut tx = self.begin_immediate().await?;
        if returning(finish_query(node, attempt, result)?, &mut *tx)
            .await?
            .is_none()
        {
            tx.rollback().await?;
            return Err(refusal::attempt(self, node, attempt).await);
        }
        let put = match file {
            Some(file) => put_file_query(lease, node, file)?
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            None => 1,
        };
        let executed = match put {
            0 => 0,
            _ => executed_query(lease, node, summary)?
                .execute(&mut *tx)
                .await?
                .rows_affected(),
        };
        tx.commit().await?;
        if executed == 0 {
            return Err(refusal::transition(self, lease, node, NodeStage::Executed).await);
        }
        Ok(())
    }

    async fn record_review(
        &self,
        lease: &Lease,
        node: NodeId,
        review: Review,
        call: Option<&NewLlmCall>,
        event: &RunEvent,
    ) -> Result<NodeRecord> {
        if let Some(call) = call {
            call.check_stage(lease, node)?;
        }
        let mut tx = self.begin_immediate().await?;
        if let Some(call) = call {
            record_query(call)?.fetch_all(&mut *tx).await?;
        }
        let done = reviewed_query(lease, node, review)?
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.commit().await?;
            return Err(refusal::transition(self, lease, node, NodeStage::Reviewed).await);
        }
        append_on(&mut tx, lease.run_id, event).await?;
        let row = sqlx::query(include_str!("../../sql/sqlite/nodes/get.sql"))
            .bind(super::id_text(node.0))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        decode::node(&row)
    }
}

//! SQLite: [`ExecutionStore`] on the `executions` table — one row per attempt; starting an
//! attempt supersedes the running ones (in one `BEGIN IMMEDIATE` transaction), and results
//! are fenced by the attempt number.

use aide_core::{NodeId, NodeStage};

use super::{SqliteQuery, SqliteStore, id_text, lease_holds, node_stage, returning};
use crate::decode;
use crate::error::{Error, Result};
use crate::refusal;
use crate::store::ExecutionStore;
use crate::types::{ExecutionRecord, ExecutionResult, Lease, to_i64, to_u32, transition_error};

impl ExecutionStore for SqliteStore {
    async fn start_execution(&self, lease: &Lease, node: NodeId) -> Result<u32> {
        let mut tx = self.begin_immediate().await?;
        // The write lock is held from here on, so the checks below stay true until commit.
        if !lease_holds(&mut *tx, lease).await? {
            return Err(lease.lost());
        }
        let (stage, has_code) = node_stage(&mut *tx, lease, node)
            .await?
            .ok_or_else(|| Error::not_found("node", node))?;
        if stage != NodeStage::Generated || !has_code {
            return Err(transition_error(node, stage, has_code, NodeStage::Executed));
        }
        sqlx::query(include_str!("../../sql/sqlite/executions/supersede.sql"))
            .bind(id_text(node.0))
            .execute(&mut *tx)
            .await?;
        let query = sqlx::query(include_str!("../../sql/sqlite/executions/start.sql"))
            .bind(id_text(node.0))
            .bind(id_text(lease.run_id.0));
        let row = returning(query, &mut *tx)
            .await?
            .ok_or_else(|| Error::corrupt("a write returned no row"))?;
        tx.commit().await?;
        to_u32(sqlx::Row::try_get(&row, "attempt")?, "attempt")
    }

    async fn finish_execution(
        &self,
        node: NodeId,
        attempt: u32,
        result: ExecutionResult,
    ) -> Result<ExecutionRecord> {
        match returning(finish_query(node, attempt, result)?, &self.pool).await? {
            Some(row) => decode::execution(&row),
            None => Err(refusal::attempt(self, node, attempt).await),
        }
    }

    async fn abandon_execution(&self, node: NodeId, attempt: u32, reason: &str) -> Result<()> {
        let done = sqlx::query(include_str!("../../sql/sqlite/executions/abandon.sql"))
            .bind(id_text(node.0))
            .bind(i64::from(attempt))
            .bind(reason)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::attempt(self, node, attempt).await);
        }
        Ok(())
    }

    async fn list_executions(&self, node: NodeId) -> Result<Vec<ExecutionRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/executions/list.sql"))
            .bind(id_text(node.0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::execution)
            .collect()
    }
}

/// The result of an attempt, fenced by its number (`executions/finish.sql`); read it with
/// [`returning`]: no row when refused.
pub(super) fn finish_query(
    node: NodeId,
    attempt: u32,
    result: ExecutionResult,
) -> Result<SqliteQuery> {
    Ok(
        sqlx::query(include_str!("../../sql/sqlite/executions/finish.sql"))
            .bind(id_text(node.0))
            .bind(i64::from(attempt))
            .bind(result.runner_id)
            .bind(result.exit_code)
            .bind(result.timed_out)
            .bind(result.oom_killed)
            .bind(result.wall_secs)
            .bind(result.cpu_secs)
            .bind(
                result
                    .peak_memory_bytes
                    .map(|v| to_i64(v, "peak memory"))
                    .transpose()?,
            )
            .bind(result.output)
            .bind(to_i64(result.output_bytes, "output bytes")?)
            .bind(result.exc_type)
            .bind(result.exc_message),
    )
}

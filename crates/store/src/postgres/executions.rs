//! Postgres: [`ExecutionStore`] on the `executions` table — one row per attempt; starting
//! an attempt supersedes the running ones, and results are fenced by the attempt number.

use aide_core::{NodeId, NodeStage};

use super::{PgStore, attempt_i32, lock_fence};
use crate::decode;
use crate::error::{Error, Result};
use crate::refusal;
use crate::store::ExecutionStore;
use crate::types::{ExecutionRecord, ExecutionResult, Lease, to_i64, to_u32, transition_error};

impl ExecutionStore for PgStore {
    async fn start_execution(&self, lease: &Lease, node: NodeId) -> Result<u32> {
        let mut tx = self.pool.begin().await?;
        lock_fence(&mut tx, lease).await?;
        let row = sqlx::query(include_str!("../../sql/postgres/executions/lock_node.sql"))
            .bind(node.0)
            .bind(lease.run_id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("node", node))?;
        let (stage, has_code) = decode::stage(&row)?;
        if stage != NodeStage::Generated || !has_code {
            return Err(transition_error(node, stage, has_code, NodeStage::Executed));
        }
        sqlx::query(include_str!("../../sql/postgres/executions/supersede.sql"))
            .bind(node.0)
            .execute(&mut *tx)
            .await?;
        let attempt: i32 =
            sqlx::query_scalar(include_str!("../../sql/postgres/executions/start.sql"))
                .bind(node.0)
                .bind(lease.run_id.0)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        to_u32(i64::from(attempt), "attempt")
    }

    async fn finish_execution(
        &self,
        node: NodeId,
        attempt: u32,
        result: ExecutionResult,
    ) -> Result<ExecutionRecord> {
        let row = sqlx::query(include_str!("../../sql/postgres/executions/finish.sql"))
            .bind(node.0)
            .bind(attempt_i32(node, attempt)?)
            .bind(&result.runner_id)
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
            .bind(&result.output)
            .bind(to_i64(result.output_bytes, "output bytes")?)
            .bind(&result.exc_type)
            .bind(&result.exc_message)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => decode::execution(&row),
            None => Err(refusal::attempt(self, node, attempt).await),
        }
    }

    async fn abandon_execution(&self, node: NodeId, attempt: u32, reason: &str) -> Result<()> {
        let done = sqlx::query(include_str!("../../sql/postgres/executions/abandon.sql"))
            .bind(node.0)
            .bind(attempt_i32(node, attempt)?)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(refusal::attempt(self, node, attempt).await);
        }
        Ok(())
    }

    async fn list_executions(&self, node: NodeId) -> Result<Vec<ExecutionRecord>> {
        sqlx::query(include_str!("../../sql/postgres/executions/list.sql"))
            .bind(node.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::execution)
            .collect()
    }
}

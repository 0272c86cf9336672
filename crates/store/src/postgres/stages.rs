//! Postgres: [`StageStore`] — what one stage of a node writes, each in ONE statement (data-
//! modifying `WITH` clauses, `sql/postgres/stages/`), so a stage costs one round trip and
//! one commit. Refusals are explained afterwards by the same reads as the separate calls.

use aide_core::{NodeId, NodeStage, RunEvent};
use sqlx::Row;

use super::{PgQuery, PgStore, attempt_i32, fenced, int4};
use crate::decode;
use crate::error::{Error, Result};
use crate::refusal;
use crate::store::StageStore;
use crate::types::{
    CallUsage, ExecutionResult, ExecutionSummary, Generation, Lease, NewLlmCall, NewNode, NodeFile,
    NodeFileBody, NodeRecord, PromptSize, Review, to_i64, to_json,
};

impl StageStore for PgStore {
    async fn create_node(
        &self,
        lease: &Lease,
        node: NewNode,
        event: &RunEvent,
    ) -> Result<NodeRecord> {
        let row = fenced(
            include_str!("../../sql/postgres/stages/create_node.sql"),
            lease,
        )?
        .bind(node.id.0)
        .bind(node.parent.map(|p| p.0))
        .bind(node.action.as_str())
        .bind(int4(node.step, "step")?)
        .bind(int4(node.debug_depth, "debug depth")?)
        .bind(event.kind())
        .bind(event.payload())
        .bind(node.partner.map(|p| p.0))
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| lease.lost())?;
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
        let query = fenced(
            include_str!("../../sql/postgres/stages/generation.sql"),
            lease,
        )?
        .bind(node.0)
        .bind(generation.plan)
        .bind(generation.code)
        .bind(generation.raw_reply)
        .bind(call.purpose.as_str());
        let done = bind_usage(query, &call.usage, call.prompt)?
            .execute(&self.pool)
            .await?;
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
        let query = fenced(
            include_str!("../../sql/postgres/stages/execution.sql"),
            lease,
        )?
        .bind(node.0)
        .bind(attempt_i32(node, attempt)?);
        let query = bind_result(query, result)?;
        let query = bind_file(query, file)?;
        let row = bind_summary(query, summary)?.fetch_one(&self.pool).await?;
        if !row.try_get::<bool, _>("finished")? {
            return Err(refusal::attempt(self, node, attempt).await);
        }
        if !row.try_get::<bool, _>("executed")? {
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
        let query = fenced(include_str!("../../sql/postgres/stages/review.sql"), lease)?
            .bind(node.0)
            .bind(review.is_buggy)
            .bind(to_json(&review.bug_reasons, "bug reasons")?)
            .bind(review.metric)
            .bind(review.summary)
            .bind(event.kind())
            .bind(event.payload())
            .bind(call.map(|c| c.purpose.as_str()));
        let usage = call.map(|c| c.usage.clone()).unwrap_or_default();
        let row = bind_usage(query, &usage, call.and_then(|c| c.prompt))?
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => decode::node(&row),
            None => Err(refusal::transition(self, lease, node, NodeStage::Reviewed).await),
        }
    }
}

/// Binds what a ledger row holds after its purpose: provider, model, the three token
/// counts, cost, latency, request id, cached, and the prompt's size as the engine counted it.
fn bind_usage(query: PgQuery, usage: &CallUsage, prompt: Option<PromptSize>) -> Result<PgQuery> {
    Ok(query
        .bind(usage.provider.clone())
        .bind(usage.model.clone())
        .bind(to_i64(usage.prompt_tokens, "prompt tokens")?)
        .bind(to_i64(usage.completion_tokens, "completion tokens")?)
        .bind(to_i64(usage.cached_tokens, "cached tokens")?)
        .bind(usage.cost_usd)
        .bind(to_i64(usage.latency_ms, "latency")?)
        .bind(usage.request_id.clone())
        .bind(usage.cached)
        .bind(
            prompt
                .map(|p| to_i64(p.chars, "prompt chars"))
                .transpose()?,
        )
        .bind(
            prompt
                .map(|p| to_i64(p.tokens, "prompt tokens"))
                .transpose()?,
        ))
}

/// Binds an attempt's result as `executions/finish.sql` takes it.
fn bind_result(query: PgQuery, result: ExecutionResult) -> Result<PgQuery> {
    Ok(query
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
        .bind(result.exc_message))
}

/// Binds a node file (name, inline bytes, blob digest, size), all NULL for none.
fn bind_file(query: PgQuery, file: Option<&NodeFile>) -> Result<PgQuery> {
    let Some(file) = file else {
        return Ok(query
            .bind(None::<String>)
            .bind(None::<Vec<u8>>)
            .bind(None::<String>)
            .bind(None::<i64>));
    };
    let (content, digest) = match &file.body {
        NodeFileBody::Inline(bytes) => (Some(bytes.clone()), None),
        NodeFileBody::Blob(digest) => (None, Some(digest.to_string())),
    };
    let size =
        i64::try_from(file.size).map_err(|_| Error::corrupt("a node file over i64::MAX bytes"))?;
    Ok(query
        .bind(Some(file.name.clone()))
        .bind(content)
        .bind(digest)
        .bind(Some(size)))
}

/// Binds what a node keeps of its execution, as `nodes/mark_executed.sql` takes it.
fn bind_summary(query: PgQuery, exec: ExecutionSummary) -> Result<PgQuery> {
    let info = exec
        .exc_info
        .as_ref()
        .map(|info| to_json(info, "exception info"))
        .transpose()?;
    Ok(query
        .bind(exec.term_out)
        .bind(exec.exit_code)
        .bind(exec.exec_time_secs)
        .bind(exec.timed_out)
        .bind(exec.exc_type)
        .bind(info)
        .bind(exec.wrote_submission))
}

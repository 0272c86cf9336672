//! Postgres: [`LedgerStore`] on the `llm_calls` ledger — one row per LLM call with tokens,
//! cost and latency, summed per run.

use aide_core::access::ProjectName;
use aide_core::{NodeId, RunId};
use chrono::{DateTime, Utc};

use super::PgStore;
use crate::decode::{self, DbRow};
use crate::error::{Error, Result};
use crate::store::LedgerStore;
use crate::types::{LlmCallRecord, NewLlmCall, Usage, to_i64};

impl LedgerStore for PgStore {
    async fn record_llm_call(&self, call: NewLlmCall) -> Result<i64> {
        sqlx::query_scalar(include_str!("../../sql/postgres/ledger/record.sql"))
            .bind(call.run_id.0)
            .bind(call.node_id.map(|n| n.0))
            .bind(call.purpose.as_str())
            .bind(&call.usage.provider)
            .bind(&call.usage.model)
            .bind(to_i64(call.usage.prompt_tokens, "prompt tokens")?)
            .bind(to_i64(call.usage.completion_tokens, "completion tokens")?)
            .bind(to_i64(call.usage.cached_tokens, "cached tokens")?)
            .bind(call.usage.cost_usd)
            .bind(to_i64(call.usage.latency_ms, "latency")?)
            .bind(&call.usage.request_id)
            .bind(call.usage.cached)
            .bind(
                call.prompt
                    .map(|p| to_i64(p.chars, "prompt chars"))
                    .transpose()?,
            )
            .bind(
                call.prompt
                    .map(|p| to_i64(p.tokens, "prompt tokens"))
                    .transpose()?,
            )
            .fetch_one(&self.pool)
            .await
            .map_err(|e| Error::unless_missing_run(e, call.run_id))
    }

    async fn run_usage(&self, run_id: RunId) -> Result<Usage> {
        let row = sqlx::query(include_str!("../../sql/postgres/ledger/usage.sql"))
            .bind(run_id.0)
            .fetch_one(&self.pool)
            .await?;
        decode::usage(&row)
    }

    async fn node_llm_calls(&self, node: NodeId) -> Result<Vec<LlmCallRecord>> {
        sqlx::query(include_str!("../../sql/postgres/ledger/node_calls.sql"))
            .bind(node.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::llm_call)
            .collect()
    }

    async fn run_llm_calls(&self, run_id: RunId) -> Result<Vec<LlmCallRecord>> {
        sqlx::query(include_str!("../../sql/postgres/ledger/run_calls.sql"))
            .bind(run_id.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::llm_call)
            .collect()
    }

    async fn project_cost_since(&self, project: &ProjectName, since: DateTime<Utc>) -> Result<f64> {
        let row = sqlx::query(include_str!("../../sql/postgres/ledger/project_cost.sql"))
            .bind(project.as_str())
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
        row.value("cost_usd")
    }
}

//! SQLite: [`LedgerStore`] on the `llm_calls` ledger — one row per LLM call with tokens,
//! cost and latency, summed per run.

use aide_core::access::ProjectName;
use aide_core::{NodeId, RunId};
use chrono::{DateTime, Utc};

use super::{SqliteQuery, SqliteStore, id_text};
use crate::decode::{self, DbRow};
use crate::error::{Error, Result};
use crate::store::LedgerStore;
use crate::types::{LlmCallRecord, NewLlmCall, Usage, to_i64};

impl LedgerStore for SqliteStore {
    async fn record_llm_call(&self, call: NewLlmCall) -> Result<i64> {
        let run_id = call.run_id;
        let ids: Vec<i64> = record_query(&call)?
            .fetch_all(&self.pool)
            .await
            .map_err(|e| Error::unless_missing_run(e, run_id))?
            .iter()
            .map(|row| sqlx::Row::try_get(row, 0))
            .collect::<std::result::Result<_, _>>()?;
        ids.last()
            .copied()
            .ok_or_else(|| Error::corrupt("a write returned no row"))
    }

    async fn run_usage(&self, run_id: RunId) -> Result<Usage> {
        let row = sqlx::query(include_str!("../../sql/sqlite/ledger/usage.sql"))
            .bind(id_text(run_id.0))
            .fetch_one(&self.pool)
            .await?;
        decode::usage(&row)
    }

    async fn node_llm_calls(&self, node: NodeId) -> Result<Vec<LlmCallRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/ledger/node_calls.sql"))
            .bind(id_text(node.0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::llm_call)
            .collect()
    }

    async fn run_llm_calls(&self, run_id: RunId) -> Result<Vec<LlmCallRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/ledger/run_calls.sql"))
            .bind(id_text(run_id.0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::llm_call)
            .collect()
    }

    async fn project_cost_since(&self, project: &ProjectName, since: DateTime<Utc>) -> Result<f64> {
        let row = sqlx::query(include_str!("../../sql/sqlite/ledger/project_cost.sql"))
            .bind(project.as_str())
            .bind(since.timestamp_millis())
            .fetch_one(&self.pool)
            .await?;
        row.value("cost_usd")
    }
}

/// One ledger row (`ledger/record.sql`), returning its id; read it with `fetch_all`.
pub(super) fn record_query(call: &NewLlmCall) -> Result<SqliteQuery> {
    Ok(
        sqlx::query(include_str!("../../sql/sqlite/ledger/record.sql"))
            .bind(id_text(call.run_id.0))
            .bind(call.node_id.map(|n| id_text(n.0)))
            .bind(call.purpose.as_str())
            .bind(call.usage.provider.clone())
            .bind(call.usage.model.clone())
            .bind(to_i64(call.usage.prompt_tokens, "prompt tokens")?)
            .bind(to_i64(call.usage.completion_tokens, "completion tokens")?)
            .bind(to_i64(call.usage.cached_tokens, "cached tokens")?)
            .bind(call.usage.cost_usd)
            .bind(to_i64(call.usage.latency_ms, "latency")?)
            .bind(call.usage.request_id.clone())
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
            ),
    )
}

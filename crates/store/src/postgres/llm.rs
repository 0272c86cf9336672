//! Postgres: the `llm_calls` ledger — one row per LLM call with tokens, cost and latency,
//! summed per run.

use aide_core::RunId;
use sqlx::Row;
use sqlx::postgres::PgPool;

use crate::error::{Error, Result};
use crate::types::{NewLlmCall, Usage, to_i64, to_u64};

pub(super) async fn record_llm_call(pool: &PgPool, call: NewLlmCall) -> Result<i64> {
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO llm_calls (run_id, node_id, purpose, provider, model, prompt_tokens, completion_tokens, \
             cached_tokens, cost_usd, latency_ms, request_id, cached, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now()) RETURNING id",
    )
    .bind(call.run_id.0)
    .bind(call.node_id.map(|n| n.0))
    .bind(call.purpose.as_str())
    .bind(&call.provider)
    .bind(&call.model)
    .bind(to_i64(call.prompt_tokens, "prompt tokens")?)
    .bind(to_i64(call.completion_tokens, "completion tokens")?)
    .bind(to_i64(call.cached_tokens, "cached tokens")?)
    .bind(call.cost_usd)
    .bind(to_i64(call.latency_ms, "latency")?)
    .bind(&call.request_id)
    .bind(call.cached)
    .fetch_one(pool)
    .await;
    match id {
        Ok(id) => Ok(id),
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            Err(Error::not_found("run", call.run_id))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn run_usage(pool: &PgPool, run_id: RunId) -> Result<Usage> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS calls, \
             COALESCE(SUM(prompt_tokens), 0)::bigint AS prompt_tokens, \
             COALESCE(SUM(completion_tokens), 0)::bigint AS completion_tokens, \
             COALESCE(SUM(cached_tokens), 0)::bigint AS cached_tokens, \
             COALESCE(SUM(cost_usd), 0)::float8 AS cost_usd \
         FROM llm_calls WHERE run_id = $1",
    )
    .bind(run_id.0)
    .fetch_one(pool)
    .await?;
    Ok(Usage {
        calls: to_u64(row.try_get("calls")?, "calls")?,
        prompt_tokens: to_u64(row.try_get("prompt_tokens")?, "prompt tokens")?,
        completion_tokens: to_u64(row.try_get("completion_tokens")?, "completion tokens")?,
        cached_tokens: to_u64(row.try_get("cached_tokens")?, "cached tokens")?,
        cost_usd: row.try_get("cost_usd")?,
    })
}

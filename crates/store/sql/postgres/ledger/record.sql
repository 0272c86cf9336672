INSERT INTO llm_calls (
    run_id, node_id, purpose, provider, model, prompt_tokens, completion_tokens,
    cached_tokens, cost_usd, latency_ms, request_id, cached, prompt_chars,
    prompt_tokens_counted, created_at
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
RETURNING id

SELECT
    COUNT(*) AS calls,
    COALESCE(SUM(prompt_tokens), 0)::bigint AS prompt_tokens,
    COALESCE(SUM(completion_tokens), 0)::bigint AS completion_tokens,
    COALESCE(SUM(cached_tokens), 0)::bigint AS cached_tokens,
    COALESCE(SUM(cost_usd), 0)::float8 AS cost_usd
FROM llm_calls
WHERE run_id = $1

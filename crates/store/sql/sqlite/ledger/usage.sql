SELECT
    COUNT(*) AS calls,
    COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
    COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
    COALESCE(SUM(cached_tokens), 0) AS cached_tokens,
    COALESCE(TOTAL(cost_usd), 0.0) AS cost_usd
FROM llm_calls
WHERE run_id = ?1

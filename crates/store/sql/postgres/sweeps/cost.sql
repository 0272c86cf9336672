-- Spending of every run sweep $1 started.
SELECT COALESCE(SUM(l.cost_usd), 0)::float8 AS cost_usd
FROM llm_calls l JOIN runs r ON r.id = l.run_id
WHERE r.sweep_id = $1

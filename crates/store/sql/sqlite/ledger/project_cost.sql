-- What the model calls of project ?1's runs cost since ?2 (milliseconds).
SELECT CAST(COALESCE(SUM(l.cost_usd), 0) AS REAL) AS cost_usd
FROM llm_calls l JOIN runs r ON r.id = l.run_id
WHERE r.project = ?1 AND l.created_at >= ?2

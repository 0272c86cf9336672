-- Every cell of sweep $1 with its run's times and spending.
SELECT c.*, r.created_at AS run_created_at, r.finished_at AS run_finished_at,
       COALESCE((SELECT SUM(l.cost_usd) FROM llm_calls l WHERE l.run_id = c.run_id), 0)::float8
           AS cost_usd
FROM sweep_cells c LEFT JOIN runs r ON r.id = c.run_id
WHERE c.sweep_id = $1
ORDER BY c.idx

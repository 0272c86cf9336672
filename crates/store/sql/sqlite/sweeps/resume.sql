-- Sweep ?1 runs (again) with budget (?2, ?3, ?4).
UPDATE sweeps SET status = 'running', stop_reason = NULL, finished_at = NULL,
    cost_limit_usd = ?2, wall_clock_secs = ?3, cells_at_once = ?4, updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE id = ?1 AND status IN ('running', 'stopped', 'cancelled')
RETURNING *

-- Sweep ?1 of project ?2, which must exist (no row otherwise), running.
INSERT INTO sweeps (id, project, name, definition, status, cost_limit_usd, wall_clock_secs,
                    cells_at_once, created_at, updated_at)
SELECT ?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER), CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE EXISTS (SELECT 1 FROM projects WHERE name = ?2)
RETURNING *

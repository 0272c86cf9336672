-- Cell ?2 of sweep ?1 runs as run ?3.
UPDATE sweep_cells SET status = 'running', run_id = ?3, attempts = attempts + 1,
    grade = NULL, cause = NULL, updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE sweep_id = ?1 AND idx = ?2 AND status = 'queued'

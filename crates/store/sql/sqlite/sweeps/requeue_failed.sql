UPDATE sweep_cells SET status = 'queued', run_id = NULL, grade = NULL, cause = NULL,
    updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE sweep_id = ?1 AND status = 'failed'

UPDATE sweep_cells SET status = 'queued', run_id = NULL, grade = NULL, cause = NULL,
    updated_at = now()
WHERE sweep_id = $1 AND status = 'failed'

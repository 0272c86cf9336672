UPDATE sweep_cells SET status = 'queued', run_id = NULL, updated_at = now()
WHERE sweep_id = $1 AND status = 'cancelled'

UPDATE sweep_cells SET status = 'cancelled', updated_at = now()
WHERE sweep_id = $1 AND status = 'queued'

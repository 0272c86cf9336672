UPDATE sweep_cells SET status = 'cancelled', updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE sweep_id = ?1 AND status = 'queued'

-- Running sweep $1 stops with status $2 and reason $3.
UPDATE sweeps SET status = $2, stop_reason = $3, finished_at = now(), updated_at = now()
WHERE id = $1 AND status = 'running'
RETURNING *

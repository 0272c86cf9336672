-- A completed sweep $1 with cells queued again runs again.
UPDATE sweeps SET status = 'running', finished_at = NULL, updated_at = now()
WHERE id = $1 AND status = 'completed'

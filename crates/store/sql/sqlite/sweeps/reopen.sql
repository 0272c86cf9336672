-- A completed sweep ?1 with cells queued again runs again.
UPDATE sweeps SET status = 'running', finished_at = NULL, updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE id = ?1 AND status = 'completed'

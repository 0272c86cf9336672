-- Running sweep $1 completes once every cell has its outcome.
UPDATE sweeps SET status = 'completed', finished_at = now(), updated_at = now()
WHERE id = $1 AND status = 'running'
  AND NOT EXISTS (
      SELECT 1 FROM sweep_cells
      WHERE sweep_id = $1 AND status IN ('queued', 'running', 'grading')
  )

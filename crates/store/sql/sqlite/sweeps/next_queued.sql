-- The first ?2 queued cells of sweep ?1.
SELECT idx, task_idx, arm_idx, seed FROM sweep_cells
WHERE sweep_id = ?1 AND status = 'queued'
ORDER BY idx
LIMIT ?2

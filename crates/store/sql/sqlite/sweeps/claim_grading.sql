-- Cell ?2 of sweep ?1 taken for grading by owner ?3 for ?4 milliseconds.
UPDATE sweep_cells SET
    status = 'grading',
    grading_owner = ?3,
    grading_epoch = grading_epoch + 1,
    grading_expires_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) + ?4,
    updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE sweep_id = ?1 AND idx = ?2
RETURNING sweep_id, idx, run_id, grading_epoch, task_idx, arm_idx, seed

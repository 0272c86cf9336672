-- A cell whose run ended, or whose grading claim expired (the caller holds the write lock).
SELECT c.sweep_id, c.idx FROM sweep_cells c
JOIN runs r ON r.id = c.run_id
WHERE (c.status = 'running' AND r.status IN ('completed', 'failed', 'cancelled'))
   OR (c.status = 'grading' AND c.grading_expires_at < CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))
ORDER BY c.updated_at
LIMIT 1

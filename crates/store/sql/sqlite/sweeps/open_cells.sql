SELECT COUNT(*) AS cells FROM sweep_cells
WHERE sweep_id = ?1 AND status IN ('running', 'grading')

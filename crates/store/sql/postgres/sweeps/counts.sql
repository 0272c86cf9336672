SELECT status, COUNT(*) AS cells FROM sweep_cells WHERE sweep_id = $1 GROUP BY status

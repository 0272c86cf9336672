SELECT status, COUNT(*) AS cells FROM sweep_cells GROUP BY status

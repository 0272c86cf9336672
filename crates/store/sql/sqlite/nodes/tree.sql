SELECT * FROM nodes WHERE run_id = ?1 ORDER BY step

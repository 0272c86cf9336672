INSERT INTO run_events (run_id, seq, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4, CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))

DELETE FROM runners WHERE last_heartbeat_at <= CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) - ?1 RETURNING id

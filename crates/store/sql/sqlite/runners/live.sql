-- Runners that heartbeated within the last ?1 milliseconds, least loaded first.
SELECT * FROM runners
WHERE last_heartbeat_at > CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) - ?1
ORDER BY free_slots DESC, cpu_load, memory_load, id

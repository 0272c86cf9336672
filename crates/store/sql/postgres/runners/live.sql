-- Runners that heartbeated within the last $1 milliseconds, least loaded first.
SELECT * FROM runners
WHERE last_heartbeat_at > now() - $1::float8 * interval '1 millisecond'
ORDER BY free_slots DESC, cpu_load, memory_load, id

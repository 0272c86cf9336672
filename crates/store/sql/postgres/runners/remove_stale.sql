DELETE FROM runners
WHERE last_heartbeat_at <= now() - $1::float8 * interval '1 millisecond'
RETURNING id

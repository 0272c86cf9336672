-- The next attempt of node $1 (run $2): the previous highest + 1.
INSERT INTO executions (node_id, run_id, attempt, status, started_at)
SELECT $1, $2, COALESCE(MAX(attempt), 0) + 1, 'running', now() FROM executions WHERE node_id = $1
RETURNING attempt

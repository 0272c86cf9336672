UPDATE executions SET status = 'abandoned', finished_at = now(), abandon_reason = $3
WHERE node_id = $1 AND attempt = $2 AND status = 'running'

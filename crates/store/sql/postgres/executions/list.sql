SELECT * FROM executions WHERE node_id = $1 ORDER BY attempt

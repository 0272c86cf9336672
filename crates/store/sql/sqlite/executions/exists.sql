SELECT EXISTS (SELECT 1 FROM executions WHERE node_id = ?1 AND attempt = ?2)

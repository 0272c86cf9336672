UPDATE executions SET
    status = 'superseded',
    finished_at = now(),
    abandon_reason = 'superseded by a newer attempt'
WHERE node_id = $1 AND status = 'running'

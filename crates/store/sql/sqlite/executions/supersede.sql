UPDATE executions SET
    status = 'superseded',
    finished_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER),
    abandon_reason = 'superseded by a newer attempt'
WHERE node_id = ?1 AND status = 'running'

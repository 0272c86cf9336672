-- The result of attempt ?2 of node ?1, only while it is the latest attempt and running.
UPDATE executions SET
    status = 'finished',
    finished_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER),
    runner_id = ?3,
    exit_code = ?4,
    timed_out = ?5,
    oom_killed = ?6,
    wall_secs = ?7,
    cpu_secs = ?8,
    peak_memory_bytes = ?9,
    output = ?10,
    output_bytes = ?11,
    exc_type = ?12,
    exc_message = ?13
WHERE node_id = ?1 AND attempt = ?2 AND status = 'running'
  AND attempt = (SELECT MAX(attempt) FROM executions latest WHERE latest.node_id = ?1)
RETURNING *

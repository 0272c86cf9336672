-- generated (with code) -> executed, fenced like nodes/insert.sql.
UPDATE nodes SET
    stage = 'executed',
    term_out = ?5,
    exit_code = ?6,
    exec_time_secs = ?7,
    timed_out = ?8,
    exc_type = ?9,
    exc_info = ?10,
    wrote_submission = ?11,
    updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE id = ?4 AND run_id = ?1 AND stage = 'generated' AND code IS NOT NULL
  AND EXISTS (
      SELECT 1 FROM runs
      WHERE runs.id = ?1 AND runs.owner = ?2 AND runs.epoch = ?3 AND runs.status = 'running'
  )

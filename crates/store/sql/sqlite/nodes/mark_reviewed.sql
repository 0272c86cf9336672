-- executed, or generated without code -> reviewed, fenced like nodes/insert.sql.
UPDATE nodes SET
    stage = 'reviewed',
    is_buggy = ?5,
    bug_reasons = ?6,
    metric = ?7,
    summary = ?8,
    updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE id = ?4 AND run_id = ?1
  AND (stage = 'executed' OR (stage = 'generated' AND code IS NULL))
  AND EXISTS (
      SELECT 1 FROM runs
      WHERE runs.id = ?1 AND runs.owner = ?2 AND runs.epoch = ?3 AND runs.status = 'running'
  )

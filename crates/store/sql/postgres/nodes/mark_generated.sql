-- pending -> generated ($5 plan, $6 code, $7 raw reply), fenced like nodes/insert.sql.
UPDATE nodes SET stage = 'generated', plan = $5, code = $6, raw_reply = $7, updated_at = now()
WHERE id = $4 AND run_id = $1 AND stage = 'pending'
  AND EXISTS (
      SELECT 1 FROM runs
      WHERE runs.id = $1 AND runs.owner = $2 AND runs.epoch = $3 AND runs.status = 'running'
      FOR SHARE
  )

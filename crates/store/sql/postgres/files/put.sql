-- File $5 of node $4, its bytes inline ($6) or the blob $7, $8 bytes long, replacing an
-- earlier one; fenced like nodes/insert.sql, and only for a node of the lease's run.
INSERT INTO node_files (node_id, name, content, digest, size, created_at)
SELECT $4, $5, $6, $7, $8, now()
WHERE EXISTS (SELECT 1 FROM nodes WHERE nodes.id = $4 AND nodes.run_id = $1)
  AND EXISTS (
      SELECT 1 FROM runs
      WHERE runs.id = $1 AND runs.owner = $2 AND runs.epoch = $3 AND runs.status = 'running'
      FOR SHARE
  )
ON CONFLICT (node_id, name) DO UPDATE SET
    content = EXCLUDED.content,
    digest = EXCLUDED.digest,
    size = EXCLUDED.size,
    created_at = EXCLUDED.created_at

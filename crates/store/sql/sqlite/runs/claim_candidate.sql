-- The oldest claimable run; read inside BEGIN IMMEDIATE, so it stays claimable until commit.
SELECT id FROM runs
WHERE status IN ('queued', 'running')
  AND (lease_expires_at IS NULL OR lease_expires_at < CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))
ORDER BY created_at, id
LIMIT 1

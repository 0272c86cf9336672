-- The claimable run to take next, fair across projects: of the project with the fewest runs
-- leased right now, its oldest. Read inside BEGIN IMMEDIATE, so it stays claimable until
-- commit.
SELECT r.id FROM runs r
WHERE r.status IN ('queued', 'running')
  AND (r.lease_expires_at IS NULL OR r.lease_expires_at < CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))
ORDER BY (
    SELECT COUNT(*) FROM runs o
    WHERE o.project = r.project AND o.status = 'running'
      AND o.lease_expires_at >= CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
), r.created_at, r.id
LIMIT 1

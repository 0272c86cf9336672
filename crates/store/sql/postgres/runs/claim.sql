-- The next claimable run for owner $1 with a TTL of $2 milliseconds, fair across projects:
-- of the project with the fewest runs leased right now, its oldest. The candidate row is
-- locked and re-checked under the lock; rows locked by a concurrent claimer are skipped, so
-- two claimers never take the same run.
WITH candidate AS (
    SELECT r.id FROM runs r
    WHERE r.status IN ('queued', 'running')
      AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
    ORDER BY (
        SELECT COUNT(*) FROM runs o
        WHERE o.project = r.project AND o.status = 'running' AND o.lease_expires_at >= now()
    ), r.created_at, r.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE runs SET
    owner = $1,
    epoch = runs.epoch + 1,
    status = 'running',
    lease_expires_at = now() + $2::float8 * interval '1 millisecond',
    updated_at = now()
FROM candidate
WHERE runs.id = candidate.id
RETURNING runs.id, runs.epoch

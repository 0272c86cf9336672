-- The oldest claimable run for owner $1 with a TTL of $2 milliseconds. The candidate row is
-- locked and re-checked under the lock; rows locked by a concurrent claimer are skipped, so
-- two claimers never take the same run.
WITH candidate AS (
    SELECT id FROM runs
    WHERE status IN ('queued', 'running')
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    ORDER BY created_at, id
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

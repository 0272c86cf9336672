-- A cell of a running, stopped or cancelled sweep whose run ended, or whose grading claim
-- expired, taken by owner $1 for $2 milliseconds; cells locked by another claimer are skipped.
WITH candidate AS (
    SELECT c.sweep_id, c.idx FROM sweep_cells c
    JOIN runs r ON r.id = c.run_id
    WHERE (c.status = 'running' AND r.status IN ('completed', 'failed', 'cancelled'))
       OR (c.status = 'grading' AND c.grading_expires_at < now())
    ORDER BY c.updated_at
    LIMIT 1
    FOR UPDATE OF c SKIP LOCKED
)
UPDATE sweep_cells SET
    status = 'grading',
    grading_owner = $1,
    grading_epoch = sweep_cells.grading_epoch + 1,
    grading_expires_at = now() + $2::float8 * interval '1 millisecond',
    updated_at = now()
FROM candidate
WHERE sweep_cells.sweep_id = candidate.sweep_id AND sweep_cells.idx = candidate.idx
RETURNING sweep_cells.sweep_id, sweep_cells.idx, sweep_cells.run_id, sweep_cells.grading_epoch,
          sweep_cells.task_idx, sweep_cells.arm_idx, sweep_cells.seed

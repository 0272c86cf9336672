-- One pending node ($4 id, $5 parent, $6 action, $7 step, $8 debug depth, $9 partner), fenced by the
-- lease ($1 run, $2 owner, $3 epoch). The share lock makes a concurrent claim wait for
-- this write, and a write that waited on a claim re-checks the fence.
INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, partner_id, stage, created_at, updated_at)
SELECT $4, $1, $5, $6, $7, $8, $9, 'pending', now(), now()
WHERE EXISTS (
    SELECT 1 FROM runs
    WHERE runs.id = $1 AND runs.owner = $2 AND runs.epoch = $3 AND runs.status = 'running'
    FOR SHARE
)
RETURNING *

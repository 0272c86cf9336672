-- One pending node (?4 id, ?5 parent, ?6 action, ?7 step, ?8 debug depth, ?9 partner), fenced by the
-- lease (?1 run, ?2 owner, ?3 epoch): the statement takes the write lock before it reads,
-- so the check and the write are atomic.
INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, partner_id, stage, created_at, updated_at)
SELECT ?4, ?1, ?5, ?6, ?7, ?8, ?9, 'pending', CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER), CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE EXISTS (
    SELECT 1 FROM runs
    WHERE runs.id = ?1 AND runs.owner = ?2 AND runs.epoch = ?3 AND runs.status = 'running'
)
RETURNING *

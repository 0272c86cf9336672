-- A batch of pending nodes given as a JSON array (?4), in one statement: atomic, fenced
-- like nodes/insert.sql, and one round trip.
INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, partner_id, stage, created_at, updated_at)
SELECT
    json_extract(n.value, '$.id'),
    ?1,
    json_extract(n.value, '$.parent'),
    json_extract(n.value, '$.action'),
    json_extract(n.value, '$.step'),
    json_extract(n.value, '$.debug_depth'),
    json_extract(n.value, '$.partner'),
    'pending',
    CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER),
    CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
FROM json_each(?4) AS n
WHERE EXISTS (
    SELECT 1 FROM runs
    WHERE runs.id = ?1 AND runs.owner = ?2 AND runs.epoch = ?3 AND runs.status = 'running'
)

-- A batch of pending nodes of run $1 as parallel arrays; the caller holds the fence.
INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, partner_id, stage, created_at, updated_at)
SELECT n.id, $1, n.parent_id, n.action, n.step, n.debug_depth, n.partner_id, 'pending', now(), now()
FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::int4[], $6::int4[], $7::uuid[])
    AS n (id, parent_id, action, step, debug_depth, partner_id)

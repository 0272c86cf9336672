-- A pending node ($4 id, $5 parent, $6 action, $7 step, $8 debug depth, $11 partner) and
-- the event announcing it ($9 kind, $10 payload), in one statement. The event's sequence number is
-- taken by an update of the run row that is also the lease fence ($1 run, $2 owner, $3
-- epoch): its row lock makes a concurrent claim wait, and an update that waited on a claim
-- re-checks the fence. No event without its node, no node without its event.
WITH next AS (
    UPDATE runs SET last_event_seq = last_event_seq + 1
    WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running'
    RETURNING last_event_seq
), event AS (
    INSERT INTO run_events (run_id, seq, kind, payload, created_at)
    SELECT $1, next.last_event_seq, $9, $10, now() FROM next
)
INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, partner_id, stage, created_at, updated_at)
SELECT $4, $1, $5, $6, $7, $8, $11, 'pending', now(), now() FROM next
RETURNING *

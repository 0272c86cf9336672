-- The next sequence number of run $1 is handed out under the run row's lock, so sequence
-- order is commit order.
WITH next AS (
    UPDATE runs SET last_event_seq = last_event_seq + 1 WHERE id = $1 RETURNING last_event_seq
)
INSERT INTO run_events (run_id, seq, kind, payload, created_at)
SELECT $1, next.last_event_seq, $2, $3, now() FROM next
RETURNING seq

-- A queued run has never been claimed (a claim makes it running), so nobody holds it and
-- it is cancelled at once; a running one gets cancel_requested for its owner to see.
UPDATE runs SET
    cancel_requested = true,
    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    stop_reason = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE stop_reason END,
    finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
    updated_at = now()
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING *

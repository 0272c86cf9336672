-- A queued run has never been claimed (a claim makes it running), so nobody holds it and
-- it is cancelled at once; a running one gets cancel_requested for its owner to see.
UPDATE runs SET
    cancel_requested = 1,
    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    stop_reason = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE stop_reason END,
    finished_at = CASE WHEN status = 'queued' THEN CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) ELSE finished_at END,
    updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE id = ?1 AND status IN ('queued', 'running')
RETURNING *

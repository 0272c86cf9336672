-- Cancels the unfinished runs of sweep ?1: queued ones at once, running ones by request.
UPDATE runs SET
    cancel_requested = 1,
    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    stop_reason = CASE WHEN status = 'queued' THEN 'the sweep stopped' ELSE stop_reason END,
    finished_at = CASE WHEN status = 'queued' THEN CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) ELSE finished_at END,
    updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE sweep_id = ?1 AND status IN ('queued', 'running')

-- Cancels the unfinished runs of sweep $1: queued ones at once, running ones by request.
UPDATE runs SET
    cancel_requested = true,
    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    stop_reason = CASE WHEN status = 'queued' THEN 'the sweep stopped' ELSE stop_reason END,
    finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
    updated_at = now()
WHERE sweep_id = $1 AND status IN ('queued', 'running')

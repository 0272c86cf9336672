-- Ends the run under the lease ($1 run, $2 owner, $3 epoch) with status $4 and reason $5.
UPDATE runs SET
    status = $4,
    stop_reason = $5,
    finished_at = now(),
    lease_expires_at = NULL,
    updated_at = now()
WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running'
RETURNING *

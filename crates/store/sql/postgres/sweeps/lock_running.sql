-- Locks running sweep $1 for starting its cells (concurrent starters wait here).
SELECT * FROM sweeps WHERE id = $1 AND status = 'running' FOR UPDATE

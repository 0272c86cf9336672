-- The running cells of stopped sweep $1 let go of their runs (which are being cancelled)
-- and wait, cancelled, to be queued again on resume.
UPDATE sweep_cells SET status = 'cancelled', updated_at = now()
WHERE sweep_id = $1 AND status = 'running'

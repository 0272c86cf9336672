-- Queued and running runs of project $1.
SELECT COUNT(*) AS unfinished FROM runs
WHERE project = $1 AND status IN ('queued', 'running')

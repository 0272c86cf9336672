-- Runs of every project by status.
SELECT status, COUNT(*) AS runs FROM runs GROUP BY status

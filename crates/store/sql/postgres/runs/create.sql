-- Run $1 of project $7, which must exist (no row otherwise); a fork names its node ($8).
INSERT INTO runs (id, name, task, settings, direction, seed, project, status, created_at, updated_at, fork_of)
SELECT $1, $2, $3, $4, $5, $6, $7, 'queued', now(), now(), $8
WHERE EXISTS (SELECT 1 FROM projects WHERE name = $7)
RETURNING *

INSERT INTO runs (id, name, task, settings, direction, seed, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, 'queued', now(), now())
RETURNING *

INSERT INTO runs (id, name, task, settings, direction, seed, status, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER), CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))
RETURNING *

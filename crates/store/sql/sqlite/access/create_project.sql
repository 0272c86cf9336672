INSERT INTO projects (name, created_at)
VALUES (?1, CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))
RETURNING *

-- Token ?1 of project ?2 (which must exist: no row otherwise) with role ?3, hash ?4,
-- label ?5, expiry ?6; ?7 marks the bootstrap token, of which the unique index keeps one.
INSERT INTO tokens (id, project, role, hash, label, expires_at, bootstrap, created_at)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE EXISTS (SELECT 1 FROM projects WHERE name = ?2)
ON CONFLICT DO NOTHING
RETURNING *

-- Newest first, optionally of one status ($1), at most $2.
SELECT * FROM runs
WHERE ($1::text IS NULL OR status = $1)
ORDER BY created_at DESC, id DESC
LIMIT $2

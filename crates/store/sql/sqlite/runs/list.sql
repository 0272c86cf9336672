-- Newest first, optionally of one status (?1) and one project (?3), at most ?2.
SELECT * FROM runs
WHERE (?1 IS NULL OR status = ?1)
  AND (?3 IS NULL OR project = ?3)
ORDER BY created_at DESC, id DESC
LIMIT ?2

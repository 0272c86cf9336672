-- Oldest first, of project ?1 or of every project.
SELECT * FROM tokens
WHERE (?1 IS NULL OR project = ?1)
ORDER BY created_at, id

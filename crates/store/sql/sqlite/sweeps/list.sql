-- The newest ?1 sweeps, of project ?2 or (NULL) of every project.
SELECT * FROM sweeps
WHERE ?2 IS NULL OR project = ?2
ORDER BY created_at DESC, id DESC
LIMIT ?1

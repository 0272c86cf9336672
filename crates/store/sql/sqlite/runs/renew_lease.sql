-- Extends the lease (?1 run, ?2 owner, ?3 epoch) by ?4 milliseconds from now.
UPDATE runs SET lease_expires_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) + ?4
WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND status = 'running'
RETURNING lease_expires_at, cancel_requested

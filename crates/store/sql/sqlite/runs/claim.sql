-- Run ?1 claimed by owner ?2 with a TTL of ?3 milliseconds.
UPDATE runs SET
    owner = ?2,
    epoch = epoch + 1,
    status = 'running',
    lease_expires_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) + ?3,
    updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE id = ?1
RETURNING id, epoch

UPDATE runs SET owner = NULL, lease_expires_at = NULL, updated_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
WHERE id = ?1 AND owner = ?2 AND epoch = ?3 AND status = 'running'

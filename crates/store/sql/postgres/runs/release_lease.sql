UPDATE runs SET owner = NULL, lease_expires_at = NULL, updated_at = now()
WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running'

UPDATE tokens SET revoked_at = COALESCE(revoked_at, CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))
WHERE id = ?1
RETURNING *

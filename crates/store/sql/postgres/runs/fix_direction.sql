-- Sets the direction ($4) if unset; the direction in force is returned.
UPDATE runs SET
    direction = COALESCE(direction, $4),
    updated_at = CASE WHEN direction IS NULL THEN now() ELSE updated_at END
WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running'
RETURNING direction

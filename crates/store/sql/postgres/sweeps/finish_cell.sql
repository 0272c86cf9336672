-- The outcome $5 of cell $2 of sweep $1 under grading claim ($3, $4).
UPDATE sweep_cells SET
    status = $5,
    grade = $6,
    cause = $7,
    grading_owner = NULL,
    grading_expires_at = NULL,
    updated_at = now()
WHERE sweep_id = $1 AND idx = $2 AND status = 'grading' AND grading_owner = $3
  AND grading_epoch = $4

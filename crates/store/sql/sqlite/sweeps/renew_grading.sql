-- Extends grading claim (?3, ?4) on cell ?2 of sweep ?1 by ?5 milliseconds from now.
UPDATE sweep_cells SET grading_expires_at = CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) + ?5
WHERE sweep_id = ?1 AND idx = ?2 AND status = 'grading' AND grading_owner = ?3
  AND grading_epoch = ?4

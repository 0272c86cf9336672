-- The node ($1 of run $2) locked, so attempts of one node are serialised.
SELECT stage, code IS NOT NULL AS has_code FROM nodes WHERE id = $1 AND run_id = $2 FOR UPDATE

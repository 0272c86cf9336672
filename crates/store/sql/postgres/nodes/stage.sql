-- Node $1 of run $2: its stage and whether it has code, to explain a refused transition.
SELECT stage, code IS NOT NULL AS has_code FROM nodes WHERE id = $1 AND run_id = $2

-- One more internal failure of the engine holding lease ($1 run, $2 owner, $3 epoch).
UPDATE runs SET engine_failures = engine_failures + 1, updated_at = now()
WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running'
RETURNING engine_failures

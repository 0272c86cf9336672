-- The ledger's calls of run $1, oldest first.
SELECT * FROM llm_calls WHERE run_id = $1 ORDER BY id

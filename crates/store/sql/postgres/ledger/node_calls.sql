-- The ledger's calls for node $1, oldest first.
SELECT * FROM llm_calls WHERE node_id = $1 ORDER BY id

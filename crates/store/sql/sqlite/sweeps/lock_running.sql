-- Running sweep ?1 (the caller holds the write lock: BEGIN IMMEDIATE).
SELECT * FROM sweeps WHERE id = ?1 AND status = 'running'

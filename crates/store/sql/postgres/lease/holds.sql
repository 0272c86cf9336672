-- Whether the lease ($1 run, $2 owner, $3 epoch) still holds; no lock, used to explain a
-- refused write.
SELECT EXISTS (
    SELECT 1 FROM runs
    WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running'
)

-- The lease fence taken inside a transaction: a share lock on the run row while the lease
-- ($1 run, $2 owner, $3 epoch) holds, no row otherwise.
SELECT 1 AS one FROM runs
WHERE id = $1 AND owner = $2 AND epoch = $3 AND status = 'running'
FOR SHARE

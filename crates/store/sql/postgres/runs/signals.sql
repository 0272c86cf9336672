-- The cancel flag and newest directive of each of the runs $1 that has either (one read
-- for every run a replica drives).
SELECT id, cancel_requested, steered_seq FROM runs
WHERE id = ANY($1) AND (cancel_requested OR steered_seq > 0)

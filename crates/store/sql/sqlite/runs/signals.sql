-- The cancel flag and newest directive of each of the runs in the JSON array ?1 that has
-- either (one read for every run a replica drives).
SELECT id, cancel_requested, steered_seq FROM runs
WHERE (cancel_requested OR steered_seq > 0) AND id IN (SELECT value FROM json_each(?1))

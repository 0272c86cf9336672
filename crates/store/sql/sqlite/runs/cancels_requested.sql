-- Which of the runs in the JSON array ?1 have a cancel request (one read for every run a
-- replica drives).
SELECT id FROM runs WHERE cancel_requested AND id IN (SELECT value FROM json_each(?1))

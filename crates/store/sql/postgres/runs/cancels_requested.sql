-- Which of the runs $1 have a cancel request (one read for every run a replica drives).
SELECT id FROM runs WHERE id = ANY($1) AND cancel_requested

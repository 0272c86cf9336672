-- Steering a live run (ARCHITECTURE §14). `steered_seq` is the sequence number of the run's
-- newest directive event, which the owner's watch reads with the cancel flag to learn that
-- there is one to take in; `fork_of` is the node whose code a forked run's first draft is
-- (a node of another run; no foreign key, the fork outlives nothing it names).
ALTER TABLE runs ADD COLUMN steered_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN fork_of uuid;

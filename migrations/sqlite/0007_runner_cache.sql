-- The bytes of task bundles and environments a runner keeps cached, as its heartbeats
-- report it; NULL until a runner reports it.
ALTER TABLE runners ADD COLUMN cache_bytes INTEGER;

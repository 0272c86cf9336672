-- Run ?1's status and settings (read inside the write transaction that records the
-- directive).
SELECT status, settings FROM runs WHERE id = ?1

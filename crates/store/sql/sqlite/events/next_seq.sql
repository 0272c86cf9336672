-- The next sequence number of run ?1, taken inside the same BEGIN IMMEDIATE transaction as
-- the insert, so sequence order is commit order.
UPDATE runs SET last_event_seq = last_event_seq + 1 WHERE id = ?1 RETURNING last_event_seq

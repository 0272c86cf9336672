-- (Re-)registers runner ?1 at ?2 with ?3 slots and labels ?4: all slots free, heartbeat now.
INSERT INTO runners (
    id, address, slots, labels, free_slots, running, cpu_load, memory_load,
    registered_at, last_heartbeat_at
)
VALUES (?1, ?2, ?3, ?4, ?3, 0, 0, 0, CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER), CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER))
ON CONFLICT (id) DO UPDATE SET
    address = excluded.address,
    slots = excluded.slots,
    labels = excluded.labels,
    free_slots = excluded.slots,
    running = 0,
    cpu_load = 0,
    memory_load = 0,
    registered_at = excluded.registered_at,
    last_heartbeat_at = excluded.last_heartbeat_at

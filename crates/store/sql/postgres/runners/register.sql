-- (Re-)registers runner $1 at $2 with $3 slots and labels $4: all slots free, heartbeat now.
INSERT INTO runners (
    id, address, slots, labels, free_slots, running, cpu_load, memory_load,
    registered_at, last_heartbeat_at
)
VALUES ($1, $2, $3, $4, $3, 0, 0, 0, now(), now())
ON CONFLICT (id) DO UPDATE SET
    address = EXCLUDED.address,
    slots = EXCLUDED.slots,
    labels = EXCLUDED.labels,
    free_slots = EXCLUDED.slots,
    running = 0,
    cpu_load = 0,
    memory_load = 0,
    registered_at = now(),
    last_heartbeat_at = now()

UPDATE runners SET
    free_slots = $2,
    running = $3,
    cpu_load = $4,
    memory_load = $5,
    cache_bytes = $6,
    last_heartbeat_at = now()
WHERE id = $1

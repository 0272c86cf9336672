SELECT id FROM sweeps WHERE status = 'running' ORDER BY created_at

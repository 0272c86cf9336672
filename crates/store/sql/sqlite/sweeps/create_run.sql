-- Run ?1 of sweep ?8 (project ?7), queued.
INSERT INTO runs (id, name, task, settings, direction, seed, project, status, created_at,
                  updated_at, sweep_id)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER), CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER), ?8)

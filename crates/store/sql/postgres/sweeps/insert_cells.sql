-- The cells of sweep $1, queued: $2 is a JSON array of [task, arm, seed] triples, the cell's
-- index being its place in the array.
INSERT INTO sweep_cells (sweep_id, idx, task_idx, arm_idx, seed, status, updated_at)
SELECT $1, (cell.ordinality - 1)::integer, (cell.value->>0)::integer, (cell.value->>1)::integer,
       (cell.value->>2)::bigint, 'queued', now()
FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS cell(value, ordinality)

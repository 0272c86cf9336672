-- The cells of sweep ?1, queued: ?2 is a JSON array of [task, arm, seed] triples, the cell's
-- index being its place in the array.
INSERT INTO sweep_cells (sweep_id, idx, task_idx, arm_idx, seed, status, updated_at)
SELECT ?1, CAST(cell.key AS INTEGER), json_extract(cell.value, '$[0]'),
       json_extract(cell.value, '$[1]'), json_extract(cell.value, '$[2]'), 'queued', CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)
FROM json_each(?2) AS cell

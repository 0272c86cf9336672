-- The result of attempt $5 of node $4 (fenced by the attempt number, as
-- executions/finish.sql: $6 runner ... $16 exception message), then, only when that result
-- was taken, the node file $17 (NULL: none; $18 inline bytes, $19 blob digest, $20 size) and
-- generated -> executed ($21 output ... $27 wrote submission), both fenced by the lease ($1
-- run, $2 owner, $3 epoch) like nodes/insert.sql. Says which parts were written.
WITH finished AS (
    UPDATE executions SET
        status = 'finished',
        finished_at = now(),
        runner_id = $6,
        exit_code = $7,
        timed_out = $8,
        oom_killed = $9,
        wall_secs = $10,
        cpu_secs = $11,
        peak_memory_bytes = $12,
        output = $13,
        output_bytes = $14,
        exc_type = $15,
        exc_message = $16
    WHERE node_id = $4 AND attempt = $5 AND status = 'running'
      AND attempt = (SELECT MAX(attempt) FROM executions latest WHERE latest.node_id = $4)
    RETURNING attempt
), fence AS (
    SELECT 1 AS held FROM runs
    WHERE runs.id = $1 AND runs.owner = $2 AND runs.epoch = $3 AND runs.status = 'running'
    FOR SHARE
), file AS (
    INSERT INTO node_files (node_id, name, content, digest, size, created_at)
    SELECT $4, $17, $18, $19, $20, now()
    WHERE $17::text IS NOT NULL
      AND EXISTS (SELECT 1 FROM finished)
      AND EXISTS (SELECT 1 FROM fence)
      AND EXISTS (SELECT 1 FROM nodes WHERE nodes.id = $4 AND nodes.run_id = $1)
    ON CONFLICT (node_id, name) DO UPDATE SET
        content = EXCLUDED.content,
        digest = EXCLUDED.digest,
        size = EXCLUDED.size,
        created_at = EXCLUDED.created_at
), executed AS (
    UPDATE nodes SET
        stage = 'executed',
        term_out = $21,
        exit_code = $22,
        exec_time_secs = $23,
        timed_out = $24,
        exc_type = $25,
        exc_info = $26,
        wrote_submission = $27,
        updated_at = now()
    WHERE id = $4 AND run_id = $1 AND stage = 'generated' AND code IS NOT NULL
      AND EXISTS (SELECT 1 FROM finished)
      AND EXISTS (SELECT 1 FROM fence)
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM finished) AS finished, EXISTS (SELECT 1 FROM executed) AS executed

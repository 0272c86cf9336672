-- executed, or generated without code -> reviewed ($5 buggy, $6 bug reasons, $7 metric, $8
-- summary), then the event $9 (kind) $10 (payload), in one statement; with the ledger row of
-- the review's call when $11 (purpose) is not NULL ($12 provider ... $20 cached, $21 prompt
-- characters, $22 prompt tokens), written
-- even when the transition is refused. The fence ($1 run, $2 owner, $3 epoch) locks the run
-- row for the update that takes the event's sequence number, so two such statements of one
-- run wait for each other instead of both holding a share lock they cannot upgrade.
WITH call AS (
    INSERT INTO llm_calls (
        run_id, node_id, purpose, provider, model, prompt_tokens, completion_tokens,
        cached_tokens, cost_usd, latency_ms, request_id, cached, prompt_chars,
        prompt_tokens_counted, created_at
    )
    SELECT $1, $4, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, now()
    WHERE $11::text IS NOT NULL
), reviewed AS (
    UPDATE nodes SET
        stage = 'reviewed',
        is_buggy = $5,
        bug_reasons = $6,
        metric = $7,
        summary = $8,
        updated_at = now()
    WHERE id = $4 AND run_id = $1
      AND (stage = 'executed' OR (stage = 'generated' AND code IS NULL))
      AND EXISTS (
          SELECT 1 FROM runs
          WHERE runs.id = $1 AND runs.owner = $2 AND runs.epoch = $3 AND runs.status = 'running'
          FOR NO KEY UPDATE
      )
    RETURNING *
), next AS (
    UPDATE runs SET last_event_seq = last_event_seq + 1
    WHERE id = $1 AND EXISTS (SELECT 1 FROM reviewed)
    RETURNING last_event_seq
), event AS (
    INSERT INTO run_events (run_id, seq, kind, payload, created_at)
    SELECT $1, next.last_event_seq, $9, $10, now() FROM next
)
SELECT * FROM reviewed

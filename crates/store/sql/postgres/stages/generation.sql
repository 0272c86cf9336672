-- pending -> generated ($5 plan, $6 code, $7 raw reply), fenced like nodes/insert.sql, with
-- the ledger row of the call that wrote it ($8 purpose, $9 provider, $10 model, $11 prompt,
-- $12 completion and $13 cached tokens, $14 cost, $15 latency, $16 request id, $17 cached,
-- $18 prompt characters and $19 prompt tokens as the engine counted them),
-- which is written even when the transition is refused.
WITH call AS (
    INSERT INTO llm_calls (
        run_id, node_id, purpose, provider, model, prompt_tokens, completion_tokens,
        cached_tokens, cost_usd, latency_ms, request_id, cached, prompt_chars,
        prompt_tokens_counted, created_at
    )
    VALUES ($1, $4, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, now())
)
UPDATE nodes SET stage = 'generated', plan = $5, code = $6, raw_reply = $7, updated_at = now()
WHERE id = $4 AND run_id = $1 AND stage = 'pending'
  AND EXISTS (
      SELECT 1 FROM runs
      WHERE runs.id = $1 AND runs.owner = $2 AND runs.epoch = $3 AND runs.status = 'running'
      FOR SHARE
  )

-- How long each call's prompt was, as the engine measured it before sending: characters and
-- o200k_base tokens. NULL for calls recorded before it was measured.
ALTER TABLE llm_calls ADD COLUMN prompt_chars bigint CHECK (prompt_chars >= 0);
ALTER TABLE llm_calls ADD COLUMN prompt_tokens_counted bigint CHECK (prompt_tokens_counted >= 0);

-- aide-store schema (Postgres): runs with their lease, nodes, execution attempts,
-- the LLM call ledger, run events and the runner registry. Times come from now().

CREATE TABLE runs (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    task             jsonb NOT NULL,
    settings         jsonb NOT NULL,
    direction        text CHECK (direction IN ('minimize', 'maximize')),
    seed             bigint NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    stop_reason      text,
    owner            text,
    epoch            bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    last_event_seq   bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);

-- claim_run: oldest unfinished run first.
CREATE INDEX runs_claimable ON runs (created_at, id) WHERE status IN ('queued', 'running');
-- list_runs: newest first, optionally by status.
CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, created_at DESC, id DESC);

CREATE TABLE nodes (
    id               uuid PRIMARY KEY,
    run_id           uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    parent_id        uuid,
    action           text NOT NULL CHECK (action IN ('draft', 'improve', 'debug')),
    step             integer NOT NULL CHECK (step >= 0),
    debug_depth      integer NOT NULL CHECK (debug_depth >= 0),
    stage            text NOT NULL DEFAULT 'pending'
                     CHECK (stage IN ('pending', 'generated', 'executed', 'reviewed')),
    -- generated
    plan             text,
    code             text,
    raw_reply        text,
    -- executed
    term_out         text,
    exit_code        integer,
    exec_time_secs   double precision,
    timed_out        boolean,
    exc_type         text,
    exc_info         jsonb,
    wrote_submission boolean,
    -- reviewed
    is_buggy         boolean,
    bug_reasons      jsonb,
    metric           double precision,
    summary          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- load_tree reads by (run_id, step); steps are unique per run.
    CONSTRAINT nodes_run_step UNIQUE (run_id, step),
    CONSTRAINT nodes_run_id UNIQUE (run_id, id),
    -- A parent is a node of the same run.
    CONSTRAINT nodes_parent FOREIGN KEY (run_id, parent_id) REFERENCES nodes (run_id, id)
);

CREATE INDEX nodes_by_parent ON nodes (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE executions (
    node_id           uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    attempt           integer NOT NULL CHECK (attempt >= 1),
    run_id            uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    status            text NOT NULL CHECK (status IN ('running', 'finished', 'abandoned', 'superseded')),
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    runner_id         text,
    exit_code         integer,
    timed_out         boolean,
    oom_killed        boolean,
    wall_secs         double precision,
    cpu_secs          double precision,
    peak_memory_bytes bigint,
    output            text,
    output_bytes      bigint,
    exc_type          text,
    exc_message       text,
    abandon_reason    text,
    PRIMARY KEY (node_id, attempt)
);

-- Attempts in flight per run (resume after a crash).
CREATE INDEX executions_running ON executions (run_id) WHERE status = 'running';

CREATE TABLE llm_calls (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    -- No foreign key: a paid call is recorded even if its node was never persisted.
    node_id           uuid,
    purpose           text NOT NULL,
    provider          text NOT NULL,
    model             text NOT NULL,
    prompt_tokens     bigint NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens bigint NOT NULL CHECK (completion_tokens >= 0),
    cached_tokens     bigint NOT NULL CHECK (cached_tokens >= 0),
    cost_usd          double precision NOT NULL,
    latency_ms        bigint NOT NULL CHECK (latency_ms >= 0),
    request_id        text,
    cached            boolean NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX llm_calls_by_run ON llm_calls (run_id);
CREATE INDEX llm_calls_by_node ON llm_calls (node_id) WHERE node_id IS NOT NULL;

CREATE TABLE run_events (
    run_id     uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq        bigint NOT NULL CHECK (seq >= 1),
    kind       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE runners (
    id                text PRIMARY KEY,
    address           text NOT NULL,
    slots             integer NOT NULL CHECK (slots >= 0),
    labels            jsonb NOT NULL DEFAULT '{}'::jsonb,
    free_slots        integer NOT NULL CHECK (free_slots >= 0),
    running           integer NOT NULL DEFAULT 0 CHECK (running >= 0),
    cpu_load          double precision NOT NULL DEFAULT 0,
    memory_load       double precision NOT NULL DEFAULT 0,
    registered_at     timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX runners_by_heartbeat ON runners (last_heartbeat_at);

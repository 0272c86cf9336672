-- aide-store schema (SQLite): the same tables as the Postgres schema. Ids are hyphenated
-- UUID text, JSON is text, booleans are 0/1, and every time is integer milliseconds since
-- the Unix epoch (UTC) taken from the database clock, so comparisons are numeric.

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    task             TEXT NOT NULL,
    settings         TEXT NOT NULL,
    direction        TEXT CHECK (direction IN ('minimize', 'maximize')),
    seed             INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    stop_reason      TEXT,
    owner            TEXT,
    epoch            INTEGER NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    lease_expires_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    last_event_seq   INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER
) STRICT;

CREATE INDEX runs_claimable ON runs (created_at, id) WHERE status IN ('queued', 'running');
CREATE INDEX runs_by_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, created_at DESC, id DESC);

CREATE TABLE nodes (
    id               TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    parent_id        TEXT,
    action           TEXT NOT NULL CHECK (action IN ('draft', 'improve', 'debug')),
    step             INTEGER NOT NULL CHECK (step >= 0),
    debug_depth      INTEGER NOT NULL CHECK (debug_depth >= 0),
    stage            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (stage IN ('pending', 'generated', 'executed', 'reviewed')),
    plan             TEXT,
    code             TEXT,
    raw_reply        TEXT,
    term_out         TEXT,
    exit_code        INTEGER,
    exec_time_secs   REAL,
    timed_out        INTEGER,
    exc_type         TEXT,
    exc_info         TEXT,
    wrote_submission INTEGER,
    is_buggy         INTEGER,
    bug_reasons      TEXT,
    metric           REAL,
    summary          TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (run_id, step),
    UNIQUE (run_id, id),
    FOREIGN KEY (run_id, parent_id) REFERENCES nodes (run_id, id)
) STRICT;

CREATE INDEX nodes_by_parent ON nodes (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE executions (
    node_id           TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    attempt           INTEGER NOT NULL CHECK (attempt >= 1),
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    status            TEXT NOT NULL CHECK (status IN ('running', 'finished', 'abandoned', 'superseded')),
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    runner_id         TEXT,
    exit_code         INTEGER,
    timed_out         INTEGER,
    oom_killed        INTEGER,
    wall_secs         REAL,
    cpu_secs          REAL,
    peak_memory_bytes INTEGER,
    output            TEXT,
    output_bytes      INTEGER,
    exc_type          TEXT,
    exc_message       TEXT,
    abandon_reason    TEXT,
    PRIMARY KEY (node_id, attempt)
) STRICT;

CREATE INDEX executions_running ON executions (run_id) WHERE status = 'running';

CREATE TABLE llm_calls (
    id                INTEGER PRIMARY KEY,
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id           TEXT,
    purpose           TEXT NOT NULL,
    provider          TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0),
    cached_tokens     INTEGER NOT NULL CHECK (cached_tokens >= 0),
    cost_usd          REAL NOT NULL,
    latency_ms        INTEGER NOT NULL CHECK (latency_ms >= 0),
    request_id        TEXT,
    cached            INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX llm_calls_by_run ON llm_calls (run_id);
CREATE INDEX llm_calls_by_node ON llm_calls (node_id) WHERE node_id IS NOT NULL;

CREATE TABLE run_events (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
) STRICT;

CREATE TABLE runners (
    id                TEXT PRIMARY KEY,
    address           TEXT NOT NULL,
    slots             INTEGER NOT NULL CHECK (slots >= 0),
    labels            TEXT NOT NULL DEFAULT '{}',
    free_slots        INTEGER NOT NULL CHECK (free_slots >= 0),
    running           INTEGER NOT NULL DEFAULT 0 CHECK (running >= 0),
    cpu_load          REAL NOT NULL DEFAULT 0,
    memory_load       REAL NOT NULL DEFAULT 0,
    registered_at     INTEGER NOT NULL,
    last_heartbeat_at INTEGER NOT NULL
) STRICT;

CREATE INDEX runners_by_heartbeat ON runners (last_heartbeat_at);

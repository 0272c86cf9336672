-- Benchmark sweeps: a sweep's definition (tasks, arms, seeds) and budget, and one row per
-- cell (task × arm × seed) with its state, its current run and its grade. A cell's run is
-- an ordinary run carrying the sweep's id. Times are milliseconds since the epoch.
CREATE TABLE sweeps (
    id              TEXT PRIMARY KEY,
    project         TEXT NOT NULL REFERENCES projects (name),
    name            TEXT NOT NULL,
    definition      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'cancelled', 'completed')),
    stop_reason     TEXT,
    cost_limit_usd  REAL CHECK (cost_limit_usd > 0),
    wall_clock_secs INTEGER CHECK (wall_clock_secs > 0),
    cells_at_once   INTEGER NOT NULL CHECK (cells_at_once > 0),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
) STRICT;
CREATE INDEX sweeps_by_created ON sweeps (created_at DESC, id DESC);

CREATE TABLE sweep_cells (
    sweep_id           TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    idx                INTEGER NOT NULL CHECK (idx >= 0),
    task_idx           INTEGER NOT NULL CHECK (task_idx >= 0),
    arm_idx            INTEGER NOT NULL CHECK (arm_idx >= 0),
    seed               INTEGER NOT NULL,
    status             TEXT NOT NULL
                       CHECK (status IN ('queued', 'running', 'grading', 'graded', 'failed', 'cancelled')),
    run_id             TEXT REFERENCES runs (id),
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    grade              TEXT,
    cause              TEXT,
    grading_owner      TEXT,
    grading_epoch      INTEGER NOT NULL DEFAULT 0,
    grading_expires_at INTEGER,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, idx)
) STRICT;
CREATE INDEX sweep_cells_open ON sweep_cells (updated_at) WHERE status IN ('running', 'grading');
CREATE INDEX sweep_cells_queued ON sweep_cells (sweep_id, idx) WHERE status = 'queued';

ALTER TABLE runs ADD COLUMN sweep_id TEXT REFERENCES sweeps (id);
CREATE INDEX runs_by_sweep ON runs (sweep_id) WHERE sweep_id IS NOT NULL;

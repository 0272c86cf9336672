-- Benchmark sweeps: a sweep's definition (tasks, arms, seeds) and budget, and one row per
-- cell (task × arm × seed) with its state, its current run and its grade. A cell's run is
-- an ordinary run carrying the sweep's id.
CREATE TABLE sweeps (
    id              uuid PRIMARY KEY,
    project         text NOT NULL REFERENCES projects (name),
    name            text NOT NULL,
    definition      jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'stopped', 'cancelled', 'completed')),
    stop_reason     text,
    cost_limit_usd  double precision CHECK (cost_limit_usd > 0),
    wall_clock_secs bigint CHECK (wall_clock_secs > 0),
    cells_at_once   integer NOT NULL CHECK (cells_at_once > 0),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    finished_at     timestamptz
);
CREATE INDEX sweeps_by_created ON sweeps (created_at DESC, id DESC);
CREATE INDEX sweeps_running ON sweeps (id) WHERE status = 'running';

CREATE TABLE sweep_cells (
    sweep_id           uuid NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    idx                integer NOT NULL CHECK (idx >= 0),
    task_idx           integer NOT NULL CHECK (task_idx >= 0),
    arm_idx            integer NOT NULL CHECK (arm_idx >= 0),
    seed               bigint NOT NULL,
    status             text NOT NULL
                       CHECK (status IN ('queued', 'running', 'grading', 'graded', 'failed', 'cancelled')),
    run_id             uuid REFERENCES runs (id),
    attempts           integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    grade              jsonb,
    cause              text,
    grading_owner      text,
    grading_epoch      integer NOT NULL DEFAULT 0,
    grading_expires_at timestamptz,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (sweep_id, idx)
);
CREATE INDEX sweep_cells_open ON sweep_cells (updated_at) WHERE status IN ('running', 'grading');
CREATE INDEX sweep_cells_queued ON sweep_cells (sweep_id, idx) WHERE status = 'queued';

ALTER TABLE runs ADD COLUMN sweep_id uuid REFERENCES sweeps (id);
CREATE INDEX runs_by_sweep ON runs (sweep_id) WHERE sweep_id IS NOT NULL;

-- no-transaction
-- Search policies (ARCHITECTURE §14): a merge node combines two parents. Its second parent
-- is `partner_id`, a node of the same run; the action list gains 'merge'.
--
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt (SQLite's own
-- twelve-step procedure). Foreign keys are off meanwhile, which only works outside a
-- transaction, hence the directive above and the explicit one below: with them off and
-- legacy_alter_table on, renaming the old table leaves the other tables' foreign keys
-- naming `nodes`, the new table once the rows are copied, and dropping the old one
-- cascades nothing.
PRAGMA foreign_keys = OFF;
PRAGMA legacy_alter_table = ON;
BEGIN IMMEDIATE;
ALTER TABLE nodes RENAME TO nodes_before_merge;

CREATE TABLE nodes (
    id               TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    parent_id        TEXT,
    action           TEXT NOT NULL CHECK (action IN ('draft', 'improve', 'debug', 'merge')),
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
    partner_id       TEXT,
    UNIQUE (run_id, step),
    UNIQUE (run_id, id),
    FOREIGN KEY (run_id, parent_id) REFERENCES nodes (run_id, id),
    FOREIGN KEY (run_id, partner_id) REFERENCES nodes (run_id, id)
) STRICT;

INSERT INTO nodes (id, run_id, parent_id, action, step, debug_depth, stage, plan, code, raw_reply, term_out,
    exit_code, exec_time_secs, timed_out, exc_type, exc_info, wrote_submission, is_buggy,
    bug_reasons, metric, summary, created_at, updated_at)
SELECT id, run_id, parent_id, action, step, debug_depth, stage, plan, code, raw_reply, term_out,
    exit_code, exec_time_secs, timed_out, exc_type, exc_info, wrote_submission, is_buggy,
    bug_reasons, metric, summary, created_at, updated_at
FROM nodes_before_merge;

DROP TABLE nodes_before_merge;
CREATE INDEX nodes_by_parent ON nodes (parent_id) WHERE parent_id IS NOT NULL;
COMMIT;
PRAGMA legacy_alter_table = OFF;
PRAGMA foreign_keys = ON;

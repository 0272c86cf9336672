-- Projects, the bearer tokens that act in them, and the project each run belongs to
-- (ARCHITECTURE §10). A token is kept only as the sha256 of its secret. Runs made before
-- belong to the project `default`.
CREATE TABLE projects (
    name       TEXT PRIMARY KEY CHECK (
        length(name) BETWEEN 1 AND 63
        AND name NOT GLOB '*[^a-z0-9_-]*'
        AND substr(name, 1, 1) GLOB '[a-z0-9]'
    ),
    created_at INTEGER NOT NULL
);
INSERT INTO projects (name, created_at)
VALUES ('default', CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER));

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    project    TEXT NOT NULL REFERENCES projects (name),
    role       TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    hash       TEXT NOT NULL UNIQUE CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),
    label      TEXT NOT NULL DEFAULT '',
    bootstrap  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX tokens_one_bootstrap ON tokens (bootstrap) WHERE bootstrap;
CREATE INDEX tokens_by_project ON tokens (project, created_at);

-- SQLite cannot add a column with both a REFERENCES clause and a non-NULL default: the
-- store checks the project exists when it creates a run.
ALTER TABLE runs ADD COLUMN project TEXT NOT NULL DEFAULT 'default';
CREATE INDEX runs_by_project ON runs (project, created_at DESC, id DESC);

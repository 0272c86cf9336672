-- Projects, the bearer tokens that act in them, and the project each run belongs to
-- (ARCHITECTURE §10). A token is kept only as the sha256 of its secret. Runs made before
-- belong to the project `default`.
CREATE TABLE projects (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projects (name) VALUES ('default');

CREATE TABLE tokens (
    id         uuid PRIMARY KEY,
    project    text NOT NULL REFERENCES projects (name),
    role       text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    hash       text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    label      text NOT NULL DEFAULT '',
    -- The token the deployment made for itself on first start; there is at most one.
    bootstrap  boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX tokens_one_bootstrap ON tokens (bootstrap) WHERE bootstrap;
CREATE INDEX tokens_by_project ON tokens (project, created_at);

ALTER TABLE runs ADD COLUMN project text NOT NULL DEFAULT 'default' REFERENCES projects (name);
CREATE INDEX runs_by_project ON runs (project, created_at DESC, id DESC);

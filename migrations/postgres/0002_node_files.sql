-- Files an execution of a node produced (its submission), kept in the store so the best
-- node's submission survives a change of the run's owner.
CREATE TABLE node_files (
    node_id    uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    name       text NOT NULL,
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, name)
);

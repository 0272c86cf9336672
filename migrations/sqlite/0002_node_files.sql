-- Files an execution of a node produced (its submission), kept in the store so the best
-- node's submission survives a change of the run's owner.
CREATE TABLE node_files (
    node_id    TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    content    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (node_id, name)
);

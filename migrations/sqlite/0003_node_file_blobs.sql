-- Node files move to the blob store: a row names the file's blob by sha256 and keeps its
-- size. Rows written before keep their bytes in `content`; a row has exactly one of the two.
-- SQLite cannot relax NOT NULL in place, so the table is rebuilt.
CREATE TABLE node_files_next (
    node_id    TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    content    BLOB,
    digest     TEXT CHECK (digest IS NULL OR (length(digest) = 64 AND digest NOT GLOB '*[^0-9a-f]*')),
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (node_id, name),
    CHECK ((content IS NULL) <> (digest IS NULL))
);
INSERT INTO node_files_next (node_id, name, content, digest, size, created_at)
SELECT node_id, name, content, NULL, length(CAST(content AS BLOB)), created_at FROM node_files;
DROP TABLE node_files;
ALTER TABLE node_files_next RENAME TO node_files;

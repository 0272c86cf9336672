-- Node files move to the blob store: a row names the file's blob by sha256 and keeps its
-- size. Rows written before keep their bytes in `content`; a row has exactly one of the two.
ALTER TABLE node_files
    ALTER COLUMN content DROP NOT NULL,
    ADD COLUMN digest text,
    ADD COLUMN size bigint;
UPDATE node_files SET size = octet_length(content);
ALTER TABLE node_files
    ALTER COLUMN size SET NOT NULL,
    ADD CONSTRAINT node_files_one_body CHECK ((content IS NULL) <> (digest IS NULL)),
    ADD CONSTRAINT node_files_digest_hex CHECK (digest IS NULL OR digest ~ '^[0-9a-f]{64}$');

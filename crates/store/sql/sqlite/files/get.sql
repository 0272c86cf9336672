SELECT name, content, digest, size FROM node_files WHERE node_id = ?1 AND name = ?2

DELETE FROM runners WHERE id = ?1

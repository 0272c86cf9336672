SELECT * FROM sweeps WHERE id = ?1

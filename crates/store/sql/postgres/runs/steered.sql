-- Marks run $1 steered by the directive of event $2, with its settings after it ($3).
UPDATE runs SET steered_seq = $2, settings = $3, updated_at = now() WHERE id = $1

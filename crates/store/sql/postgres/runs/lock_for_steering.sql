-- Run $1's status and settings, its row locked until the directive is recorded.
SELECT status, settings FROM runs WHERE id = $1 FOR UPDATE

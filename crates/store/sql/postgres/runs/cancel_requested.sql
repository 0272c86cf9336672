-- Whether a cancel of run $1 was requested (a light read between lease renewals).
SELECT cancel_requested FROM runs WHERE id = $1

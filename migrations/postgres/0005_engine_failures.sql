-- How many times an engine failed internally (an error or a panic, not a lost lease) while
-- driving the run: at the cap the run ends FAILED instead of being claimed again.
ALTER TABLE runs ADD COLUMN engine_failures integer NOT NULL DEFAULT 0 CHECK (engine_failures >= 0);

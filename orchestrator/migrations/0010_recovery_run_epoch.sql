-- The run of a recovery job that may write its records: each run of the executor
-- claims the next number; a transaction of an older run finds the number changed and
-- writes nothing (recovery/journal.rs).
ALTER TABLE recovery_jobs ADD COLUMN run_epoch BIGINT NOT NULL DEFAULT 0;

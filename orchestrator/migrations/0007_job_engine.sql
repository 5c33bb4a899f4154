-- The user-facing recovery jobs (jobs.md) driven by the job engine, and their
-- immutable reports. `recovery_jobs` (0004) holds the executor's runs; a job's
-- `run_id` points at its current run there (a scheduled drill gets a new run per
-- trigger). `version` is the compare-and-set counter of every state change, so that
-- two replicas never drive one job. Portable SQL: TEXT keys, BIGINT ms times.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    owner_group_id TEXT NOT NULL,
    job_type TEXT NOT NULL,
    run_type TEXT NOT NULL,
    recovery_point TEXT NOT NULL,
    at_time BIGINT,
    schedule_json TEXT,
    state TEXT NOT NULL,
    state_json TEXT NOT NULL,
    version BIGINT NOT NULL,
    queue_seq BIGINT,
    scheduled_slot BIGINT,
    fire_at BIGINT,
    run_id TEXT,
    frozen_json TEXT,
    triggered_at BIGINT,
    started_at BIGINT,
    completed_at BIGINT,
    pause_until BIGINT,
    rollback_at BIGINT,
    reason TEXT,
    cleanup_script TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_group ON jobs (group_id);
CREATE INDEX jobs_state ON jobs (state);

CREATE TABLE job_reports (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    job_name TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    owner_group_id TEXT NOT NULL,
    job_type TEXT NOT NULL,
    result TEXT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT NOT NULL,
    report_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX job_reports_group ON job_reports (group_id, finished_at);

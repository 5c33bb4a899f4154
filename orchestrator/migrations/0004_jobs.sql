-- Recovery jobs as the executor runs them (issue 7, item 5): the job row (plan and
-- group ids as plain columns until plans exist as tables), its tasks with state and
-- timings, the task log, and every resource the job created on the target, recorded
-- BEFORE the call that creates it (state 'intent'), completed after ('created'),
-- and marked 'deleted' by rollback. Portable SQL: TEXT keys, BIGINT ms times.

CREATE TABLE recovery_jobs (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    target_cluster_id TEXT NOT NULL,
    job_type TEXT NOT NULL,
    recovery_point TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    phase TEXT NOT NULL,
    result TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    recovered_at BIGINT,
    rollback_started_at BIGINT,
    rolled_back_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX recovery_jobs_group ON recovery_jobs (group_id);

CREATE TABLE recovery_tasks (
    job_id TEXT NOT NULL REFERENCES recovery_jobs (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    task_index BIGINT NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    cloud_ms BIGINT NOT NULL,
    error TEXT,
    PRIMARY KEY (job_id, stage, task_index)
);

CREATE TABLE recovery_task_log (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES recovery_jobs (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    task_index BIGINT,
    at BIGINT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX recovery_task_log_job ON recovery_task_log (job_id, at);

CREATE TABLE recovery_resources (
    job_id TEXT NOT NULL REFERENCES recovery_jobs (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    tag TEXT NOT NULL,
    task_index BIGINT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    lookup_json TEXT NOT NULL,
    resource_json TEXT,
    depends_on_json TEXT NOT NULL,
    serves_json TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    created_at BIGINT,
    deleted_at BIGINT,
    PRIMARY KEY (job_id, seq),
    UNIQUE (job_id, tag)
);

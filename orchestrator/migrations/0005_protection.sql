-- Protection groups and recovery plans (issue 7, items 1 and 2). Portable SQL as in
-- 0001: TEXT keys, BIGINT millisecond times, no serial columns.

CREATE TABLE protection_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    source_cluster_id TEXT NOT NULL REFERENCES clusters (id),
    owner_group_id TEXT NOT NULL REFERENCES user_groups (id),
    project_id TEXT NOT NULL,
    rpo_minutes BIGINT NOT NULL,
    rto_minutes BIGINT NOT NULL,
    -- a domain::schedule::Recurrence (every N minutes / hours / weeks / months)
    snapshot_interval_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX protection_groups_owner ON protection_groups (owner_group_id);
CREATE INDEX protection_groups_source ON protection_groups (source_cluster_id);

-- The primary key makes "an instance is in at most one group" a database rule.
CREATE TABLE protection_group_instances (
    cluster_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES protection_groups (id) ON DELETE CASCADE,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, instance_id)
);
CREATE INDEX protection_group_instances_group ON protection_group_instances (group_id);

-- One plan per group (UNIQUE group_id). mapping_json: protection::mapping::PlanMapping
-- (resource mapping and boot plan); reasons_json: the state's reasons as text.
CREATE TABLE recovery_plans (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL UNIQUE REFERENCES protection_groups (id),
    name TEXT NOT NULL UNIQUE,
    target_cluster_id TEXT NOT NULL REFERENCES clusters (id),
    retention BIGINT NOT NULL,
    mapping_json TEXT NOT NULL,
    state TEXT NOT NULL,
    reasons_json TEXT NOT NULL,
    state_changed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX recovery_plans_target ON recovery_plans (target_cluster_id);

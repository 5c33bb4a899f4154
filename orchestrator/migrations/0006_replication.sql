-- Replication control: which volume replicates for which owner (a recovery plan) from
-- which agent to which agent, the protection-group snapshots cut across an owner's
-- volumes (with the plan as it was), and the volume exports made for recoveries.
-- Portable SQL (SQLite, PostgreSQL, CockroachDB): TEXT keys, BIGINT times in ms.

CREATE TABLE replication_volumes (
    owner TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    rpo_ms BIGINT NOT NULL,
    source_cluster_id TEXT NOT NULL,
    source_host TEXT NOT NULL,
    source_node TEXT NOT NULL,
    source_location_json TEXT NOT NULL,
    target_cluster_id TEXT NOT NULL,
    target_host TEXT NOT NULL,
    target_node TEXT NOT NULL,
    target_location_json TEXT NOT NULL,
    state TEXT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner, volume_id)
);
-- An agent replicates a volume for one owner only.
CREATE UNIQUE INDEX replication_volumes_volume ON replication_volumes (volume_id);

CREATE TABLE group_snapshots (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    snapshot_name TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    plan_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX group_snapshots_owner ON group_snapshots (owner, taken_at);

CREATE TABLE group_snapshot_volumes (
    snapshot_id TEXT NOT NULL REFERENCES group_snapshots (id) ON DELETE CASCADE,
    volume_id TEXT NOT NULL,
    target_node TEXT NOT NULL,
    target_snapshot TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    PRIMARY KEY (snapshot_id, volume_id)
);

CREATE TABLE replication_exports (
    name TEXT PRIMARY KEY,
    export_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    target_node TEXT NOT NULL,
    location_json TEXT NOT NULL,
    host TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

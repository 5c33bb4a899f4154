-- Agents (one row per node agent), the last replication status of every volume each
-- agent reports, and the leader lease of the orchestrator replicas. Portable SQL
-- (SQLite, PostgreSQL, CockroachDB): TEXT keys, BIGINT times in ms since the epoch.

CREATE TABLE agents (
    node_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    protocol_version TEXT NOT NULL,
    data_plane_addr TEXT,
    backends_json TEXT NOT NULL,
    tracker TEXT NOT NULL,
    state TEXT NOT NULL,
    state_changed_at BIGINT NOT NULL,
    registered_at BIGINT NOT NULL,
    last_hello_at BIGINT,
    last_seen_at BIGINT NOT NULL,
    last_heartbeat_at BIGINT,
    health_json TEXT
);
CREATE INDEX agents_state_seen ON agents (state, last_seen_at);

CREATE TABLE agent_replications (
    node_id TEXT NOT NULL REFERENCES agents (node_id) ON DELETE CASCADE,
    volume_id TEXT NOT NULL,
    state TEXT NOT NULL,
    acked_epoch BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    initial_copy_bytes BIGINT NOT NULL,
    bytes_sent_total BIGINT NOT NULL,
    last_cycle_bytes BIGINT NOT NULL,
    throughput_bps BIGINT NOT NULL,
    lag_ms BIGINT,
    last_synced_at BIGINT,
    last_error TEXT,
    rpo_ms BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (node_id, volume_id)
);

CREATE TABLE leader_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

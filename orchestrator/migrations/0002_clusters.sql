-- Clusters (OpenStack deployments) and the synchronised copy of their resources.
-- Portable SQL as in 0001: TEXT keys, BIGINT millisecond times, no serial columns.

CREATE TABLE clusters (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    owner_group_id TEXT NOT NULL REFERENCES user_groups (id),
    platform TEXT NOT NULL,
    auth_url TEXT NOT NULL,
    username TEXT NOT NULL,
    user_domain TEXT NOT NULL,
    project TEXT NOT NULL,
    project_domain TEXT NOT NULL,
    -- AES-256-GCM ciphertexts (secrets.rs); never returned by the API.
    password_enc TEXT NOT NULL,
    broker_url_enc TEXT,
    exchanges_json TEXT NOT NULL,
    storage_json TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT,
    status_changed_at BIGINT NOT NULL,
    sync_status TEXT NOT NULL,
    sync_started_at BIGINT,
    sync_finished_at BIGINT,
    sync_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX clusters_owner ON clusters (owner_group_id);

-- One row per synced resource of every kind (kind = instance, volume, network, ...):
-- the columns that lists filter on, and the cloud's own JSON document.
CREATE TABLE cluster_resources (
    cluster_id TEXT NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    project_id TEXT,
    status TEXT,
    host TEXT,
    zone TEXT,
    parent_id TEXT,
    doc_json TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    PRIMARY KEY (cluster_id, kind, id)
);
-- Covers the default list (live rows by name) and its count without reading documents.
CREATE INDEX cluster_resources_list ON cluster_resources (cluster_id, kind, deleted_at, name, id);
CREATE INDEX cluster_resources_project ON cluster_resources (cluster_id, kind, project_id);
CREATE INDEX cluster_resources_parent ON cluster_resources (cluster_id, kind, parent_id);

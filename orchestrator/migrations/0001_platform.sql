-- Platform tables: installation, users, groups, sessions, audit, events, settings,
-- licence, schedules. Portable SQL (SQLite, PostgreSQL, CockroachDB): TEXT keys,
-- BIGINT times in milliseconds since the Unix epoch (UTC), no serial columns.

CREATE TABLE installation (
    id BIGINT PRIMARY KEY,
    product_uuid TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins BIGINT NOT NULL,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE user_group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX user_group_members_user ON user_group_members (user_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    source_ip TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT,
    source_ip TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT,
    change_json TEXT NOT NULL,
    status BIGINT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    objects_json TEXT NOT NULL,
    group_id TEXT
);
CREATE INDEX events_at ON events (at);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value_json TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE licences (
    id BIGINT PRIMARY KEY,
    licence_key TEXT NOT NULL,
    registered_at BIGINT NOT NULL
);

CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    missed_policy TEXT NOT NULL,
    next_fire_at BIGINT,
    last_slot_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX schedules_next ON schedules (next_fire_at);

CREATE TABLE schedule_fires (
    schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    slot_at BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    fired_by TEXT NOT NULL,
    PRIMARY KEY (schedule_id, slot_at)
);

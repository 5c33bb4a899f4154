-- Platform gaps (issue 4): the outcome of every fired schedule slot, what the licence
-- watch last raised (so a new leader does not repeat it), and the SMTP AUTH password
-- (encrypted like the cluster credentials). Portable SQL: TEXT keys, BIGINT ms times.

ALTER TABLE schedule_fires ADD COLUMN finished_at BIGINT;
ALTER TABLE schedule_fires ADD COLUMN result TEXT;
ALTER TABLE schedule_fires ADD COLUMN detail TEXT;
CREATE INDEX schedule_fires_fired ON schedule_fires (fired_at);

CREATE TABLE licence_alerts (
    id BIGINT PRIMARY KEY,
    memory_json TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE smtp_credentials (
    id BIGINT PRIMARY KEY,
    password_enc TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

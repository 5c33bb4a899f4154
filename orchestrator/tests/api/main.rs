//! API integration tests: the real server in-process, on SQLite and on PostgreSQL.

mod bad_input;
mod cli;
mod clusters;
mod events;
mod helpers;
mod licence;
mod platform;
mod protection;
mod rbac_matrix;
mod scheduler;
mod tls;
mod users;

mod agents;
mod agents_bus;
mod job_kill9;
mod lease;
mod plan_facts;
mod plan_own_drill;
mod plan_snapshots;
mod replication;

mod certs;
mod licence_watch;
mod mail;
mod schedules;
mod smtp_server;

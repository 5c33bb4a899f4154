//! Holdfast orchestrator: the central service (REST API, database, users and RBAC,
//! licence, event centre, settings, audit trail, scheduler) and the `holdfast` CLI.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod clusters;
pub mod config;
pub mod console;
pub mod db;
pub mod domain;
pub mod dr;
pub mod events;
pub mod housekeeping;
pub mod jobs;
pub mod licence;
pub mod mail;
pub mod metrics;
pub mod protection;
pub mod recovery;
pub mod replication;
pub mod scheduler;
pub mod secrets;
pub mod server;
pub mod settings;
pub mod state;
pub mod telemetry;
pub mod tls;

pub mod agents;
pub mod lease;

pub use config::Config;
pub use server::{run, serve};

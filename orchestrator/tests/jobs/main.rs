//! The job engine end to end (issue 7, items 4-6): the real server in-process with a
//! `JobSource` over two in-process test clouds and the file materialiser, on SQLite
//! and PostgreSQL: drill → rollback → report, DR → partial success → confirm, pause,
//! cancel, automatic rollback and its extension, refused operations, the queue, a
//! scheduled drill with two replicas, and a restart in the middle of a job.

// shared with the `api` and `recovery` targets
#[allow(dead_code, unused_imports)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../recovery/materialiser.rs"]
mod materialiser;
#[allow(dead_code)]
#[path = "../recovery/support.rs"]
mod support;

mod access;
mod clearing;
mod cli;
mod flows;
mod harness;
mod operations;
mod queue;
mod replicas;
mod retry_point;
mod source;

//! `holdfast-agent`: the Holdfast node daemon (library part, used by the binary and the
//! integration tests).

#![forbid(unsafe_code)]

pub mod dataplane;
pub mod durable;
pub mod manual;
pub mod replication;
pub mod signals;
pub mod snapshots;

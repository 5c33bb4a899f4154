//! `holdfast-agent`: the Holdfast node daemon (library part, used by the binary and the
//! integration tests).

#![forbid(unsafe_code)]

pub mod bench;
pub mod bundle;
pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod durable;
pub mod health;
pub mod manual;
pub mod rbd;
pub mod replication;
pub mod signals;
pub mod snapshots;
pub mod status;

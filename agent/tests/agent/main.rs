//! Integration tests of the agent: real files, real TCP on loopback, real processes.

mod cli;
mod crash;
mod daemon;
mod helpers;
mod rbd;
mod rbd_daemon;
mod replication;
mod security;
mod tls;
mod tls_daemon;

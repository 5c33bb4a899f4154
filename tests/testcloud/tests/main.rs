//! Integration tests of the test cloud: a contract suite over HTTP (runnable against any
//! cloud), the official `openstack` CLI, notifications through RabbitMQ, files, faults
//! and the large fixture.

mod support;

mod cli;
mod contract;
mod faults;
mod files;
mod large;
mod notifications;
mod two_clouds;

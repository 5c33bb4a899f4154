//! Clusters against in-process test clouds: registration checks, full sync, the
//! notification listener (real RabbitMQ), the status probe, RBAC visibility.

mod cli;
pub(crate) mod cloud;
mod monitor;
mod notify;
mod register;
mod sync;
mod visibility;

//! The Holdfast message bus: RabbitMQ through lapin.
//!
//! - [`Bus::connect`] opens one connection, declares the topology of
//!   [`holdfast_protocol::names`] idempotently (durable exchanges, quorum queues with a
//!   dead-letter exchange) and keeps the connection alive: after any failure it
//!   reconnects with exponential backoff and jitter and declares everything again.
//! - [`Bus::publish_command`] / [`Bus::publish_event`] publish with publisher confirms
//!   and `mandatory`: they return only once the broker has taken responsibility for the
//!   message, retrying the same bytes (same message id) across reconnects. A message
//!   may therefore arrive twice; consumers deduplicate by message id.
//! - [`Bus::subscribe`] consumes with manual acks and a bounded prefetch, survives
//!   reconnects, deduplicates redeliveries of messages it already acked, and moves
//!   messages that cannot be decoded to the dead-letter queue.

#![forbid(unsafe_code)]

mod backoff;
mod config;
mod connection;
mod dedup;
mod error;
mod publish;
mod subscribe;
mod topology;

pub use backoff::Backoff;
pub use config::BusConfig;
pub use connection::Bus;
pub use dedup::SeenIds;
pub use error::BusError;
pub use subscribe::{Delivery, Subscription};

//! The Holdfast wire protocol.
//!
//! Every message that crosses the RabbitMQ bus between the orchestrator and the node
//! agents is an [`Envelope`]: a small header (protocol version, message id, correlation
//! id, sender, time sent, message kind) plus a body encoded as MessagePack with named
//! fields, so that later minor versions can add fields without breaking older peers.
//!
//! This crate does no I/O. It defines the messages ([`messages`]), how they pair
//! (a [`Request`] names its reply type), how they are encoded and decoded
//! ([`Envelope::encode`], [`Envelope::decode`]), the limits enforced on decode, and the
//! names of the exchanges, queues and routing keys ([`names`]).

#![forbid(unsafe_code)]

mod envelope;
mod error;
mod ids;
mod kind;
pub mod messages;
pub mod names;
mod version;

pub use envelope::{Envelope, Header, MAX_MESSAGE_BYTES, UnixMillis};
pub use error::{DecodeError, EncodeError};
pub use ids::{IdError, NodeId, Sender, VolumeId};
pub use kind::{AnyMessage, Body, Event, MessageKind, Request};
pub use version::ProtocolVersion;

#[cfg(test)]
mod testing;

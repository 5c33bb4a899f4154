//! Block replication of volumes between agents.

pub mod cursor;
pub mod extent_reader;
pub mod plan;
pub mod replicator;
pub mod source;
pub mod target;
